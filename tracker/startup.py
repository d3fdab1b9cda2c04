"""What `tracker serve` does before it listens: an ordered list of start-up steps.

The single place the served database is prepared. To add a step, write a function
`(settings, engine) -> str | None` in its own stage and add one line to `STEPS` below.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.engine import Engine

from tracker.bundled import load_bundled_step
from tracker.claims import sync_claims_step
from tracker.config import Settings
from tracker.db import describe_url, make_engine, upgrade_to_head
from tracker.status import evaluate_step


class StartupError(RuntimeError):
    """A start-up step cannot complete; the message is one line naming the problem.

    `tracker serve` prints it and exits non-zero. Raise it (or DatabaseError) from a step for an
    expected failure such as an invalid claim file; anything else is a bug and keeps its traceback.
    """


# A step receives the settings and an engine on the migrated database. It is an edge: it
# commits its own work (tracker.db.session_scope). It returns one summary line, or None.
StepFunction = Callable[[Settings, Engine], str | None]


@dataclass(frozen=True)
class Step:
    name: str
    run: StepFunction


def migrate_step(settings: Settings, engine: Engine) -> str:
    """Upgrade the database to the newest migration."""
    url = settings.effective_database_url()
    revision = upgrade_to_head(url, engine)
    return f"database {describe_url(url)} at revision {revision}"


# In order: migrate → sync claims → load bundled data → evaluate. Each stage adds its line here.
STEPS: list[Step] = [
    Step("migrate", migrate_step),
    Step("sync claims", sync_claims_step),
    Step("load bundled data", load_bundled_step),
    Step("evaluate", evaluate_step),  # keep last: after claims and data are loaded
]


def prepare_database(settings: Settings, steps: list[Step] | None = None) -> list[str]:
    """Run the start-up steps in order; return one line per thing done.

    Raises DatabaseError or StartupError (one line each) on an expected failure.
    """
    engine = make_engine(settings.effective_database_url())
    summary: list[str] = []
    try:
        for step in STEPS if steps is None else steps:
            line = step.run(settings, engine)
            if line:
                summary.append(line)
    finally:
        engine.dispose()
    return summary
