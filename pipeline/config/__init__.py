"""Configuration: one typed Settings object from qmark.toml and QMARK_* env; nobody else reads os.environ."""
