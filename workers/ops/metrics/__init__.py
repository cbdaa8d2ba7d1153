"""Prometheus metrics: the multi-process set-up, the catalogue, the families and the scrape."""
