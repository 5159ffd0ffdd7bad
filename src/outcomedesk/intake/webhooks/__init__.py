"""Signed webhooks of other systems into tickets (`services`)."""
