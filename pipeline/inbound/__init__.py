"""Bytes to facts: limits, parsing, forwards, authentication, machine mail, bounces, quotes, matching."""
