"""Settings, URLs and entry points: glue only."""

from outcomedesk.config.celery import app as celery_app

__all__ = ["celery_app"]
