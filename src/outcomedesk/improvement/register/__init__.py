"""The continual improvement register: initiatives that set out to move one figure of METRICS.md, measured
against a baseline. Its rooms are those of every app (api, urls, views, services, queries) plus tracked, the
figures an initiative may target; its models stay in improvement.models (one Django app).
"""
