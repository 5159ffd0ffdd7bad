"""WSGI entry point for gunicorn, granian or waitress."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "outcomedesk.config.settings")
application = get_wsgi_application()
