"""Reusable test helpers: real servers started on 127.0.0.1 by fixtures."""
