"""Operator read models: quarantine, dead letters, explain, digest data. No printing, no Redis."""
