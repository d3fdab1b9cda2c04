"""`tracker fetch`, `tracker indicators` and `tracker scheduler`: indicator data by hand,
its health at a glance, and the scheduler on its own (without the web server).
"""

from __future__ import annotations

import signal
import threading
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.engine import Engine
from sqlmodel import Session

from tracker.db import DatabaseError, make_engine, require_at_head
from tracker.models import utcnow


def _engine_at_head() -> tuple[Any, Engine]:
    from tracker.cli import fail, load_settings

    settings = load_settings()
    engine = make_engine(settings.effective_database_url())
    try:
        require_at_head(engine)
    except DatabaseError as exc:  # unreachable or not migrated: one line, no traceback
        engine.dispose()
        raise fail(str(exc)) from exc
    return settings, engine


def fetch_command(
    indicator: Annotated[
        list[str] | None,
        typer.Option("--indicator", "-i", help="Indicator key (repeatable). Default: all."),
    ] = None,
    source: Annotated[
        str | None, typer.Option("--source", "-s", help="Only indicators of this source.")
    ] = None,
) -> None:
    """Fetch indicator data now (progress bar, then a summary table).

    An indicator whose source needs an API key that is not configured (e.g. FRED without
    TRACKER_FRED_API_KEY) is not fetched: the table lists it as skipped with the setting to fill
    in, and nothing is recorded for it. Exit code 1 only if a fetch actually failed (skipped
    indicators alone exit 0).
    """
    from tracker.cli import fail
    from tracker.config import SOURCE_NAMES
    from tracker.data_health import missing_key_setting
    from tracker.pipeline import (
        RefreshResult,
        fetchable_indicators,
        http_fetcher,
        refresh_indicator,
    )

    if source is not None and source not in SOURCE_NAMES:
        raise fail(f"unknown source {source!r} (known: {', '.join(SOURCE_NAMES)})")
    settings, engine = _engine_at_head()
    try:
        targets = fetchable_indicators(engine, keys=indicator, source=source)
        if indicator:
            missing = sorted(set(indicator) - {t.key for t in targets})
            if missing:
                raise fail(
                    f"unknown or unfetchable indicator(s): {', '.join(missing)} "
                    "(see `tracker indicators`)"
                )
        if not targets:
            raise fail("no indicators to fetch (run `tracker claims sync` to load the catalogue)")
        skipped: dict[str, str] = {}
        for target in targets:
            setting = missing_key_setting(target.source, settings)
            if setting is not None:
                skipped[target.key] = f"{target.source} needs an API key: set {setting}"
        targets = [t for t in targets if t.key not in skipped]
        console = Console()
        results: list[RefreshResult] = []
        with (
            http_fetcher(settings) as http,
            Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
                transient=True,
            ) as progress,
        ):
            task = progress.add_task("fetching", total=len(targets))
            for target in targets:
                progress.update(task, description=f"fetching {target.key}")
                results.append(refresh_indicator(engine, http, target.key, trigger="cli"))
                progress.advance(task)
        console.print(_summary_table(results, skipped))
        failed = [r for r in results if not r.fetch.ok]
        if failed:
            raise typer.Exit(1)
    except DatabaseError as exc:
        raise fail(str(exc)) from exc
    finally:
        engine.dispose()


def _summary_table(results: list[Any], skipped: dict[str, str]) -> Table:
    table = Table(title="fetch summary")
    for name in ("indicator", "status", "new", "revised", "unchanged", "error"):
        table.add_column(
            name, justify="right" if name in ("new", "revised", "unchanged") else "left"
        )
    for result in results:
        fetch = result.fetch
        status = "[green]ok[/]" if fetch.ok else "[red]error[/]"
        error = fetch.error or result.evaluation_error or ""
        table.add_row(
            fetch.indicator_key,
            status,
            str(fetch.rows_new),
            str(fetch.rows_revised),
            str(fetch.rows_unchanged),
            (f"{fetch.error_kind}: " if fetch.error_kind else "") + error,
        )
    for key, reason in sorted(skipped.items()):
        table.add_row(key, "[yellow]skipped[/]", "-", "-", "-", reason)
    return table


def indicators_command() -> None:
    """List the indicator catalogue with the latest fetch and the data health of each."""
    from tracker.data_health import indicator_health

    settings, engine = _engine_at_head()
    try:
        with Session(engine) as session:
            health = indicator_health(session, settings, utcnow())
    finally:
        engine.dispose()
    table = Table(title=f"{len(health)} indicators")
    columns = ("key", "source", "unit", "refresh", "last fetch", "last success", "next update")
    for name in (*columns, "health"):
        table.add_column(name)
    colours = {"ok": "green", "failing": "red", "stale": "yellow", "needs_key": "yellow"}
    for h in health:
        row, run = h.indicator, h.last_run
        if run is None:
            last = "never"
        elif run.status == "ok":
            last = f"[green]ok[/] {run.started_at:%Y-%m-%d %H:%M}"
        else:
            last = f"[red]{run.status}[/] {run.started_at:%Y-%m-%d %H:%M} {run.error_kind or ''}"
        colour = colours.get(h.state, "default")
        table.add_row(
            row.key,
            row.source,
            row.unit,
            row.refresh,
            last,
            f"{row.last_success_at:%Y-%m-%d %H:%M}" if row.last_success_at else "-",
            row.next_update_expected.isoformat() if row.next_update_expected else "-",
            f"[{colour}]{h.state}[/]: {escape(h.reason)}",
        )
    Console().print(table)


def scheduler_command() -> None:
    """Run the fetch/evaluate scheduler in the foreground (Ctrl-C stops it).

    Several processes may run it: only the one holding the lease runs jobs; the others wait.
    """
    from tracker.scheduler import TrackerScheduler

    settings, engine = _engine_at_head()
    stop = threading.Event()
    scheduler = TrackerScheduler(engine, settings)

    def _stop(_signum: int, _frame: Any) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, _stop)
    scheduler.start()
    typer.echo(f"scheduler {scheduler.holder} started (Ctrl-C to stop)")
    announced = False
    try:
        while not stop.wait(1.0):
            if scheduler.active and not announced:
                typer.echo(f"{scheduler.holder} holds the scheduler lease; running jobs")
                announced = True
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        scheduler.stop()
        engine.dispose()
        typer.echo("scheduler stopped")
