"""Alembic revision scripts, applied in order by `Database.migrate()`."""
