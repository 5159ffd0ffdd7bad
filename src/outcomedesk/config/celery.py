"""The Celery app. Tasks go to the broker (CELERY_BROKER_URL) or, without one, to the queue folder of the data
folder that `outcomedesk serve` consumes (settings, "Background work"); they never run inside the request."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "outcomedesk.config.settings")
app = Celery("outcomedesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
