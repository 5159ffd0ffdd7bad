"""The Celery app. Without CELERY_BROKER_URL tasks run in-process (eager), after the transaction commits."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "outcomedesk.config.settings")
app = Celery("outcomedesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
