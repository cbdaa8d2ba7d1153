"""The service layer: each step one transaction (process, send, reply, chase, close), safe to run twice."""
