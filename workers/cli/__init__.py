"""The qmark command: a dispatch table, one module per command group, one output helper."""
