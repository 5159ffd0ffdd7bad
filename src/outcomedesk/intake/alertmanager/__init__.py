"""Prometheus Alertmanager's webhook: alerts become incidents of a desk, one per alert group (`services`)."""
