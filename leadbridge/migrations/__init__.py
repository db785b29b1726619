"""Alembic migrations for leadbridge's database (run with ``leadbridge db upgrade``)."""
