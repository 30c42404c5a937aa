"""Alembic environment and versions, shipped inside the package as factcheck.migrations."""
