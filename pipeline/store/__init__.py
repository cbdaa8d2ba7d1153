"""Storage: SQLAlchemy models, the session scope, repository functions and migrations."""
