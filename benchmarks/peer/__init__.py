"""django-helpdesk 2.6.1, the direct peer, set up beside Outcomedesk for benchmarks/peer_create.py.

`helpdesk.py` makes its virtualenv (PyPI only: requirements.txt), its database and its 100,000 tickets; `site/`
is the minimal Django project that serves it (kept out of Outcomedesk's lint, type and layer checks: it is
django-helpdesk's, configured as its documentation says).
"""
