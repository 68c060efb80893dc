"""Alembic migrations of the platform database, shipped inside the package.

`farmwatch.platform.db.Database.migrate()` runs them programmatically (no alembic.ini), so
an installed farmwatch can bring its own database to the current schema on startup.
"""
