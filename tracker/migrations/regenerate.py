"""Developer tool: rebuild the initial migration from the models (before the first release only).

    python -m tracker.migrations.regenerate

Deletes versions/*_0001_initial.py and autogenerates it again against an empty SQLite database.
Once a release exists, add new revisions with `alembic revision --autogenerate` instead; once a
later revision exists (0002 backfills evaluation rows), rebuilding 0001 from the models would
duplicate that revision's changes, so this refuses.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from alembic import command

from tracker.db import MIGRATIONS_DIR, alembic_config


def main() -> None:
    versions = MIGRATIONS_DIR / "versions"
    later = sorted(p.name for p in versions.glob("*.py") if not p.name.endswith("_0001_initial.py"))
    if later:
        raise SystemExit(f"not regenerating 0001: later revisions exist ({', '.join(later)})")
    for old in versions.glob("*_0001_initial.py"):
        old.unlink()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'regen.db'}"
        cfg = alembic_config(url)
        cfg.set_main_option("file_template", "20261128_%%(rev)s_%%(slug)s")
        command.revision(cfg, message="initial", autogenerate=True, rev_id="0001")
    print("regenerated", next(versions.glob("*_0001_initial.py")))


if __name__ == "__main__":
    main()
