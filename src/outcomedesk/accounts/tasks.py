"""Periodic work on people: the directory sync, run by Celery beat (or the embedded beat of `serve`)."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def sync_directory() -> str:
    """Read the LDAP directory and apply it to the accounts (OUTCOMEDESK_DIRECTORY_SYNC_MINUTES)."""
    from outcomedesk.accounts.ldap import LdapConfig, LdapError
    from outcomedesk.accounts.ldap import sync_directory as sync

    config = getattr(settings, "OUTCOMEDESK_LDAP", None)
    if not isinstance(config, LdapConfig):
        return "LDAP is not configured"
    try:
        report = sync(config)
    except LdapError as exc:
        logger.error("directory sync failed: %s", exc)
        raise
    for failure in report.failed:
        logger.warning("directory sync: %s", failure)
    logger.info("directory sync: %s", report.summary())
    return report.summary()
