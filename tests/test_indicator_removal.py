"""Taking an indicator out of indicators.yaml is applied or refused, never ignored: one nothing was
recorded about is removed; one with observations or fetch runs is kept and the sync refused,
naming the file, the indicator and what keeps it."""

from __future__ import annotations

from pathlib import Path

import pytest
from dashboard_seed import NOW, make_fetch_run, make_observation
from sqlmodel import Session, select

from tracker.claims import ClaimValidationError, sync_claims_dir
from tracker.models import Indicator

ENTRY = """  - key: {key}
    title: {key}
    source: owid
    params: {{chart: electricity-generation, column: total_generation__twh, entity_code: {code}}}
    unit: TWh
    frequency: annual
    publication_lag_days: 180
    revision_window_days: 365
    refresh: weekly
"""


def _write(directory: Path, *keys: str) -> None:
    body = "indicators:\n" + "".join(
        ENTRY.format(key=k, code=k.rsplit(".", 1)[1].upper()) for k in keys
    )
    (directory / "indicators.yaml").write_text(body if keys else "indicators: []\n")


def _keys(engine) -> set[str]:
    with Session(engine) as session:
        return set(session.exec(select(Indicator.key)).all())


def _sync(engine, directory: Path):
    with Session(engine) as session:
        report = sync_claims_dir(session, directory, now=NOW, allow_empty=True)
        session.commit()
        return report


def test_an_unlisted_indicator_is_removed_or_refused(engine, tmp_path: Path):
    used, unused = "owid.test_gen.chn", "owid.test_gen.usa"
    _write(tmp_path, used, unused)
    _sync(engine, tmp_path)
    assert {used, unused} <= _keys(engine)
    with Session(engine) as session:
        row = session.exec(select(Indicator).where(Indicator.key == used)).one()
        run = make_fetch_run(session, row)
        make_observation(session, row, "2024", 10_000.0, run=run)
        session.commit()

    _write(tmp_path)  # both taken out: refused as a whole, nothing changes
    with pytest.raises(ClaimValidationError) as refused:
        _sync(engine, tmp_path)
    [issue] = refused.value.errors
    assert issue.file.endswith("indicators.yaml") and issue.field == used
    assert "1 observation(s) and 1 fetch run(s)" in issue.message
    assert "put its entry back" in issue.message
    assert {used, unused} <= _keys(engine)

    _write(tmp_path, used)  # only the one nothing was recorded about: removed, and said so
    report = _sync(engine, tmp_path)
    assert f"indicator {unused} removed" in report.catalogue_changes
    assert used in _keys(engine) and unused not in _keys(engine)


def test_a_directory_without_indicators_yaml_removes_nothing(engine, tmp_path: Path):
    _write(tmp_path, "owid.test_gen.fra")
    _sync(engine, tmp_path)
    (tmp_path / "indicators.yaml").unlink()
    _sync(engine, tmp_path)
    assert "owid.test_gen.fra" in _keys(engine)
