"""`tracker fetch`, `tracker indicators` and `tracker scheduler`: indicator data by hand,
its health at a glance, and the scheduler on its own (without the web server).
"""

from __future__ import annotations

import datetime as dt
import signal
import threading
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console, Group
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from tracker.clock import utcnow
from tracker.db import DatabaseError, make_engine, require_at_head
from tracker.models import FetchRun

if TYPE_CHECKING:
    from tracker.data_health import IndicatorHealth


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
    in, and nothing is recorded for it. A fetch whose vintage fails a plausibility gate is
    listed as quarantined with the gates it failed: its values are kept but not used until a
    later fetch brings them again or a reviewer accepts them. Exit code 1 only if a fetch
    actually failed (skipped or quarantined indicators alone exit 0).
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
    for name in ("indicator", "status", "new", "revised", "unchanged", "error / note"):
        table.add_column(
            name, justify="right" if name in ("new", "revised", "unchanged") else "left"
        )
    for result in results:
        fetch = result.fetch
        if fetch.quarantined:
            status = "[yellow]quarantined[/]"
        else:
            status = "[green]ok[/]" if fetch.ok else "[red]error[/]"
        notes = [
            fetch.error or "",
            f"not used: {fetch.quarantine_reason}" if fetch.quarantine_reason else "",
            fetch.settled or "",
            result.evaluation_error or "",
        ]
        error = "; ".join(n for n in notes if n)
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


def indicators_command(
    keys: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="KEY",
            help="Show these indicators in full: every field, the whole reason and error.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """List the indicator catalogue with the data health of each, one line per indicator
    (columns that do not fit the terminal are left out; keys are never cut). With KEY, show
    that indicator in full, with its whole health reason and last error."""
    from tracker.cli import fail
    from tracker.data_health import indicator_health

    settings, engine = _engine_at_head()
    try:
        with Session(engine) as session:
            health = indicator_health(session, settings, utcnow(), keys=keys or None)
    finally:
        engine.dispose()
    console = Console()
    if keys:
        missing = sorted(set(keys) - {h.indicator.key for h in health})
        if missing:
            raise fail(f"unknown indicator(s): {', '.join(missing)} (see `tracker indicators`)")
        for h in sorted(health, key=lambda h: keys.index(h.indicator.key)):
            console.print(_indicator_detail(h))
        return
    console.print(_indicators_table(health, console.width))


_HEALTH_COLOURS = {
    "ok": "green",
    "failing": "red",
    "quarantined": "yellow",
    "stale": "yellow",
    "needs_key": "yellow",
}
# The summary column is given at least this many cells before optional columns are added.
_SUMMARY_MIN = 34


def _minute(moment: Any) -> str:
    return f"{moment:%Y-%m-%d %H:%M}" if moment is not None else "-"


def _day(moment: Any) -> str:
    return f"{moment:%Y-%m-%d}" if moment is not None else "-"


def _health_summary(h: IndicatorHealth, *, short: bool = False) -> str:
    """One line for an IndicatorHealth, whose `reason` can hold a whole error message;
    `short` leaves out times and repeats less (for narrow terminals)."""
    row, run = h.indicator, h.last_run
    if h.state == "failing":
        if run is not None and run.status in ("error", "abandoned"):
            what = f"HTTP {run.http_status}" if run.http_status else f"{run.error_kind} error"
            summary = what if short else f"{what} at {_minute(run.started_at)}"
        else:
            summary = "fetch failed" if short else f"fetch failed at {_minute(row.last_error_at)}"
        if h.bundled_retrieved_on and not h.live_success:
            summary += "; bundled" if short else "; bundled snapshot shown"
        return summary
    if h.state == "quarantined" and h.quarantine is not None:
        held = f"fetch run {h.quarantine.fetch_run_id}"
        return held if short else f"{held} held back: {h.quarantine.reason}"
    if h.state == "needs_key":  # short: next to "needs_key", the setting's name says it all
        return str(h.needs_setting) if short else f"set {h.needs_setting}"
    if h.state == "bundled":
        if short:
            return f"snapshot {h.bundled_retrieved_on}"
        return f"bundled snapshot of {h.bundled_retrieved_on}; not fetched live yet"
    if h.state == "never_fetched" and short:
        running = run is not None and run.status == "running"
        return "first fetch running" if running else "not fetched yet"
    when = _day if short else _minute
    if h.state == "stale" and row.last_success_at is not None:
        return f"no success since {when(row.last_success_at)}"
    if h.state == "ok":
        return f"last success {when(row.last_success_at)}"
    return str(h.reason)


def _last_fetch(run: FetchRun | None) -> str:
    if run is None:
        return "never"
    return f"{run.status} {_minute(run.started_at)}"


def _indicators_table(health: list[IndicatorHealth], width: int) -> Table | Group:
    """One line per indicator: key, health and its summary always; then the optional columns,
    most useful first, while the summary keeps _SUMMARY_MIN cells. Keys are never cut:
    narrower than key + health + a short summary, each indicator takes two lines instead."""
    from rich.cells import cell_len

    keys = [h.indicator.key for h in health]
    states = [Text(h.state, style=_HEALTH_COLOURS.get(h.state, "")) for h in health]
    summaries = [_health_summary(h) for h in health]
    optional: dict[str, list[str]] = {  # in the order of the table
        "source": [h.indicator.source for h in health],
        "unit": [h.indicator.unit for h in health],
        "refresh": [h.indicator.refresh for h in health],
        "last fetch": [_last_fetch(h.last_run) for h in health],
        "last success": [_minute(h.indicator.last_success_at) for h in health],
        "next update": [
            h.indicator.next_update_expected.isoformat()
            if h.indicator.next_update_expected
            else "-"
            for h in health
        ],
    }
    priority = ("last success", "refresh", "last fetch", "source", "next update", "unit")

    def measure(name: str, cells: list[str]) -> int:
        return max([cell_len(name), *(cell_len(c) for c in cells)])

    # one space between columns (padding on the right of all but the last)
    used = measure("key", keys) + 1 + measure("health", [t.plain for t in states]) + 1
    summary_width = measure("summary", summaries)
    title = f"{len(health)} indicators"
    caption = "`tracker indicators KEY` shows one in full, with its whole error"
    if width - used < min(summary_width, 12):
        summaries = [_health_summary(h, short=True) for h in health]
        return _indicators_list(keys, states, summaries, title, caption)
    shown: list[str] = []
    for name in priority:
        extra = measure(name, optional[name]) + 1
        if width - used - extra >= min(summary_width, _SUMMARY_MIN):
            shown.append(name)
            used += extra
    if width - used < summary_width or "last fetch" in shown:
        # times left out: the rest of each summary shows, and the column has them anyway
        summaries = [_health_summary(h, short=True) for h in health]
        summary_width = measure("summary", summaries)
    table = Table(
        title=title,
        caption=caption,
        box=None,
        padding=(0, 1, 0, 0),  # one space between columns
        pad_edge=False,
        header_style="bold",
        title_justify="left",
        caption_justify="left",
    )
    table.add_column("key", no_wrap=True, min_width=measure("key", keys))
    table.add_column("health", no_wrap=True)
    columns = [name for name in optional if name in shown]
    for name in columns:
        table.add_column(name, no_wrap=True)
    # a summary longer than the room left wraps (at 80 columns the key takes half of it)
    table.add_column("summary", overflow="fold", width=min(summary_width, width - used))
    for i, key in enumerate(keys):
        table.add_row(key, states[i], *(optional[c][i] for c in columns), summaries[i])
    return table


def _indicators_list(
    keys: list[str], states: list[Text], summaries: list[str], title: str, caption: str
) -> Group:
    """The listing for a terminal too narrow for the table: each key on a line of its own
    (folded, never cut), its health and summary on the next."""
    lines: list[Text] = [Text(title, style="bold")]
    for key, state, summary in zip(keys, states, summaries, strict=True):
        lines.append(Text(key, overflow="fold"))
        lines.append(Text.assemble("  ", state, f": {summary}", no_wrap=True, overflow="ellipsis"))
    lines.append(Text(caption))
    return Group(*lines)


def _indicator_detail(h: IndicatorHealth) -> Group:
    """Every field of one indicator's health, the whole reason and last error included."""
    row, run = h.indicator, h.last_run
    grid = Table.grid(padding=(0, 2, 0, 0))
    grid.add_column(no_wrap=True, style="bold")
    grid.add_column(overflow="fold")
    fields: list[tuple[str, Any]] = [
        ("title", row.title or "-"),
        ("source", row.source),
        ("unit", row.unit),
        ("refresh", row.refresh),
        ("health", Text(h.state, style=_HEALTH_COLOURS.get(h.state, ""))),
        ("reason", h.reason),
    ]
    if run is None:
        fields.append(("last fetch", "never"))
    else:
        facts = [f"run {run.id}", run.trigger]
        facts += [f"HTTP {run.http_status}"] if run.http_status else []
        facts += [run.error_kind] if run.error_kind else []
        fields.append(
            ("last fetch", f"{run.status} {_minute(run.started_at)} UTC ({', '.join(facts)})")
        )
        if run.error and run.error not in h.reason:
            fields.append(("error", run.error))
    fields += [
        ("last success", f"{_minute(row.last_success_at)} UTC" if row.last_success_at else "-"),
        ("last error", f"{_minute(row.last_error_at)} UTC" if row.last_error_at else "-"),
        ("next update", row.next_update_expected.isoformat() if row.next_update_expected else "-"),
    ]
    if h.bundled_retrieved_on:
        fields.append(("bundled", f"snapshot retrieved {h.bundled_retrieved_on}"))
    for label, value in fields:
        grid.add_row(f"  {label}", value if isinstance(value, Text) else Text(str(value)))
    return Group(Text(row.key, style="bold", overflow="fold"), grid)


def scheduler_command() -> None:
    """Run the fetch/evaluate scheduler in the foreground (Ctrl-C stops it).

    Several processes may run it: only the one holding the lease runs jobs; the others wait.
    """
    from tracker.scheduler import TrackerScheduler

    settings, engine = _engine_at_head()
    stop = threading.Event()
    scheduler = TrackerScheduler(
        engine,
        settings,
        lease_ttl=dt.timedelta(seconds=settings.scheduler_lease_seconds),
        heartbeat=dt.timedelta(seconds=settings.scheduler_heartbeat_seconds),
        catch_up_delay=dt.timedelta(seconds=settings.scheduler_catch_up_delay_seconds),
    )

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
