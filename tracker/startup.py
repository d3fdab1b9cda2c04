"""What `tracker serve` does before it listens: migrate, then the steps each stage registers."""

from __future__ import annotations

from tracker.config import Settings
from tracker.db import describe_url, make_engine, upgrade_to_head


def prepare_database(settings: Settings) -> list[str]:
    """Bring the database to a servable state; return one line per thing done."""
    url = settings.effective_database_url()
    engine = make_engine(url)
    try:
        revision = upgrade_to_head(url, engine)
        return [f"database {describe_url(url)} at revision {revision}"]
    finally:
        engine.dispose()
