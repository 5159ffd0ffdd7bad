"""Performance benchmarks of Outcomedesk at a million tickets (see docs/benchmarks.md)."""
