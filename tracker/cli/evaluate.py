"""`tracker evaluate [--claim SLUG] [--as-of DATE]`: evaluate claims now (and store), or replay.

Without --as-of this is an edge: it evaluates at the wall clock and commits. With --as-of it
replays what the tracker would have said at the end of that UTC day and writes nothing, through
`status.replay_claim_as_known` as the API and dashboard do: a claim with no revision recorded by
then is listed as "not known to tracker on that date".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlmodel import Session, select

from tracker.clock import utcnow
from tracker.db import make_engine, session_scope
from tracker.evaluation import EvaluationResult
from tracker.models import Claim
from tracker.numbers import format_chance, format_number
from tracker.status import evaluate_claims, replay_claim_as_known

NOT_KNOWN = "not known to tracker on that date"


def _metric_text(result: EvaluationResult) -> str:
    if result.metric is None:
        return "—"
    unit = "" if result.metric.unit == "1" else f" {result.metric.unit}"
    value = format_number(result.metric.value, result.threshold)  # apart from the threshold
    return f"{value}{unit} ({result.metric.period})"


def _threshold_text(result: EvaluationResult) -> str:
    if result.threshold is None:
        return "—"
    beside = result.metric.value if result.metric is not None else None
    return f"{result.comparator or ''} {format_number(result.threshold, beside)}".strip()


def _projection_text(result: EvaluationResult) -> str:
    p = result.projection
    if p is None:
        return "—"
    return (
        f"{format_number(p.value, result.threshold)} "
        f"({format_number(p.low)}–{format_number(p.high)}) "
        f"in {p.at}, {p.model}"
    ) + (f"; {format_chance(result.probability)}" if result.probability is not None else "")


def results_table(
    results: list[EvaluationResult], title: str, not_known: Sequence[str] = ()
) -> Table:
    """The claims as a rich table: slug, state, trend, metric, threshold, projection, reason.

    `not_known`: slugs of claims tracker did not know on a replayed date (one row each).
    """
    table = Table(title=title, show_lines=False)
    for name in ("slug", "state", "trend", "metric", "threshold", "projection"):
        table.add_column(name, no_wrap=name in ("slug", "state", "trend"))
    table.add_column("reason", overflow="fold")
    for r in results:
        table.add_row(
            r.slug,
            r.state.value,
            r.trend.value if r.trend else "—",
            _metric_text(r),
            _threshold_text(r),
            _projection_text(r),
            r.reason,
        )
    for slug in not_known:
        table.add_row(slug, "—", "—", "—", "—", "—", NOT_KNOWN)
    return table


def _parse_date(text: str, today: dt.date) -> dt.date:
    """The --as-of day: a date, not after `today` (a replay answers what was known on a past
    day; the API and the dashboard refuse a future as_of with 422 the same way)."""
    from tracker.cli import fail

    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise fail(f"--as-of must be a date YYYY-MM-DD, got {text!r}") from None
    if day > today:
        raise fail(
            f"--as-of {day.isoformat()} is in the future (today is {today.isoformat()}, UTC); "
            "pick a past date or today"
        )
    return day


def evaluate_command(
    claim: Annotated[
        str | None, typer.Option("--claim", help="Only this claim (its slug).")
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of", help="Replay the status as known at the end of this UTC day (no writes)."
        ),
    ] = None,
) -> None:
    """Evaluate claims and print their status; --as-of DATE replays a past date without writing."""
    from tracker.cli import fail, load_settings

    now = utcnow()
    replay_day = _parse_date(as_of, now.date()) if as_of is not None else None
    settings = load_settings()
    engine = make_engine(settings.effective_database_url())
    not_known: list[str] = []
    try:
        if replay_day is None:
            with session_scope(engine) as session:
                ids = _claim_ids(session, claim)
                results = evaluate_claims(session, now=now, claim_ids=ids, force=True)
            title = f"Claims evaluated at {now:%Y-%m-%d %H:%M} UTC (stored)"
        else:
            results = []
            with Session(engine) as session:
                for row in _claims(session, claim):
                    replayed = replay_claim_as_known(session, row, replay_day, now=now)
                    if replayed is None:
                        not_known.append(row.slug)
                    else:
                        results.append(replayed.result)
            title = f"Claims as known on {replay_day.isoformat()} (replay, nothing stored)"
    except LookupError as exc:
        raise fail(str(exc.args[0])) from exc
    except typer.Exit:
        raise
    except Exception as exc:  # database unreachable or not migrated: one line, no traceback
        raise fail(f"cannot evaluate: {type(exc).__name__}: {exc}".splitlines()[0]) from exc
    finally:
        engine.dispose()
    if not results and not not_known:
        typer.echo("no claims to evaluate")
        return
    console = Console()
    if not console.is_terminal:  # piped or captured: do not squeeze the table into 80 columns
        console = Console(width=200)
    console.print(results_table(results, title, not_known))


def _claims(session: Session, slug: str | None) -> list[Claim]:
    """All claims by slug, or the one named (LookupError when there is none)."""
    if slug is None:
        return list(session.exec(select(Claim).order_by(Claim.slug)).all())
    found = session.exec(select(Claim).where(Claim.slug == slug)).first()
    if found is None:
        raise LookupError(f"no claim with slug {slug!r}")
    return [found]


def _claim_ids(session: Session, slug: str | None) -> list[int] | None:
    if slug is None:
        return None
    found = session.exec(select(Claim.id).where(Claim.slug == slug)).first()
    if found is None:
        raise LookupError(f"no claim with slug {slug!r}")
    return [found]
