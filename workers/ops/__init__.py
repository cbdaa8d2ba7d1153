"""Ops over Redis and processes: health, status, queues and dead-letter sets, metrics."""
