"""The fault suite: one file per fault of reliability-security.md §6.2."""
