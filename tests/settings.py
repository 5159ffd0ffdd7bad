"""Test settings: the production settings with a throwaway data folder, plain HTTP and a fast hasher."""

import os
import tempfile

_data = tempfile.mkdtemp(prefix="outcomedesk-test-")
os.environ.setdefault("OUTCOMEDESK_SECRET_KEY", "test-secret-key-not-for-production-" + "x" * 30)
os.environ["OUTCOMEDESK_DATA_DIR"] = _data
os.environ.setdefault("OUTCOMEDESK_HTTPS", "false")
os.environ["OUTCOMEDESK_ALLOWED_HOSTS"] = "testserver,localhost,127.0.0.1"
os.environ.setdefault("OUTCOMEDESK_TASKS_EAGER", "1")

from outcomedesk.config.env import env_bool  # noqa: E402
from outcomedesk.config.settings import *  # noqa: E402,F403
from outcomedesk.config.settings import STATIC_ROOT  # noqa: E402

STATIC_ROOT.mkdir(parents=True, exist_ok=True)
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Only the tests run tasks eagerly (in the caller's thread, after commit: a test sees their effects at once and
# the e-mails land in this process's mail.outbox), and only while OUTCOMEDESK_TASKS_EAGER=1, the default here.
# Production settings never do: they queue every task for a worker (tests/test_embedded_worker.py runs the real
# `outcomedesk serve` and its worker thread). The broker is still the queue folder of the throwaway data folder.
CELERY_TASK_ALWAYS_EAGER = env_bool("OUTCOMEDESK_TASKS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = False  # a failing task logs, as on a worker, and never fails the caller

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not memory: the browser tests' live server threads then use connections of their own.
    DATABASES["default"]["TEST"] = {"NAME": os.path.join(_data, "test.sqlite3")}  # noqa: F405
