"""Alembic migrations for tracker (date-prefixed revision files in versions/)."""
