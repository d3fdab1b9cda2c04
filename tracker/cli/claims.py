"""`tracker claims ...`: check, dry-run, sync, export claim files, and print their JSON Schema."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from sqlmodel import Session, col, select

from tracker.claims import (
    CheckResult,
    ClaimFile,
    ClaimIssue,
    ClaimValidationError,
    SyncReport,
    check_claims_path,
    claim_to_document,
    dump_claim_yaml,
    has_listings,
    sync_claims_dir,
)
from tracker.clock import utcnow
from tracker.db import (
    DatabaseError,
    describe_url,
    make_engine,
    require_at_head,
    session_scope,
    upgrade_to_head,
)
from tracker.dry_run import DryRun, dry_run_claim
from tracker.evaluation import EvaluationResult
from tracker.indicators import PlausibilityGates, entry_from_row
from tracker.models import Claim, Claimant, Indicator, SourceDocument
from tracker.numbers import format_number

claims_app = typer.Typer(
    help="Claim files: check, dry-run, sync into the database, export, schema.",
    no_args_is_help=True,
)

PathArg = Annotated[
    Path | None,
    typer.Argument(help="Claims directory or one claim file (default: TRACKER_CLAIMS_DIR)."),
]


def _settings_claims_dir() -> Path:
    from tracker.cli import load_settings

    return load_settings().claims_dir


def _print_issues(issues: list[object]) -> None:
    for issue in issues:
        typer.echo(str(issue), err=True)


@claims_app.command("check")
def check(path: PathArg = None) -> None:
    """Validate claim files (nothing is written). Exit code 1 on any error."""
    from tracker.cli import fail

    target = path or _settings_claims_dir()
    result = check_claims_path(target)
    _print_issues([*result.errors, *result.warnings])
    if result.errors:
        raise fail(f"{len(result.errors)} error(s), {len(result.warnings)} warning(s) in {target}")
    typer.echo(
        f"{target}: {len(result.claims)} claims, {len(result.catalogue)} indicators, "
        f"{len(result.claimants)} claimants, {len(result.sources)} sources OK "
        f"({len(result.warnings)} warning(s))"
    )


@claims_app.command("dry-run")
def dry_run(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="Claim files (or claims directories) to try, beside their listings (a file with"
            " none beside it: those of TRACKER_CLAIMS_DIR, and the names stored)."
        ),
    ],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the result as JSON (one object per claim).")
    ] = False,
) -> None:
    """Show what saving claim files would do, against the database, without writing anything.

    For each claim: the indicators it reads with their latest value, when the deciding period's
    data is expected and whether that is before the deadline, the status it would have now,
    and its warnings (e.g. a vague deadline). Exit code 1 on any error.
    """
    from tracker.cli import fail, load_settings

    settings = load_settings()
    url = settings.effective_database_url()
    engine = make_engine(url)
    previews: list[tuple[CheckResult, DryRun]] = []
    refusals: list[ClaimIssue] = []
    try:
        require_at_head(engine)  # a dry run reads the database as it is: no migration
        now = utcnow()
        with Session(engine) as session:
            checks = [
                (path, _dry_run_check(path, settings.claims_dir, session, describe_url(url)))
                for path in paths
            ]
            errors = [e for _, result in checks for e in result.errors]
            if errors:
                _print_issues([*errors, *(w for _, result in checks for w in result.warnings)])
                raise fail(f"{len(errors)} error(s): fix them, then dry-run again")
            for _path, result in checks:
                for claim in result.claims:
                    try:
                        # with the listings beside the file, as `tracker claims sync` would
                        preview = dry_run_claim(
                            session, claim, now=now, origin="file", listings=result
                        )
                    except ClaimValidationError as exc:
                        refusals.extend(exc.errors)
                        continue
                    previews.append((result, preview))
    except DatabaseError as exc:
        raise fail(str(exc)) from exc
    finally:
        engine.dispose()
    if as_json:
        typer.echo(json.dumps([_dry_run_json(p) for _, p in previews], indent=2))
    else:
        claim_files = {p.claim.source_label for _, p in previews}
        for _path, result in checks:  # warnings about the listings, not about a claim
            _print_issues([w for w in result.warnings if w.file not in claim_files])
        for _result, preview in previews:
            _print_dry_run(preview)
    _print_issues(list(refusals))
    if refusals:
        raise fail(f"{len(refusals)} error(s): saving would be refused; nothing was written")
    typer.echo(
        f"dry run of {len(previews)} claim(s) against {describe_url(url)}: nothing was written",
        err=as_json,
    )


def _dry_run_check(path: Path, claims_dir: Path, session: Session, database: str) -> CheckResult:
    """A directory, or a file beside listings, is checked as a sync of its directory would be.

    A file with no listings beside it (e.g. a draft in /tmp) is checked as it would be once in
    the claims directory: against that directory's listings, and the names the database holds.
    """
    if path.is_dir() or has_listings(path.parent):
        return check_claims_path(path)
    return check_claims_path(path, listings_dir=claims_dir, session=session, database=database)


def _print_dry_run(preview: DryRun) -> None:
    claim = preview.claim
    action = "exists: saving would amend it" if preview.exists else "new: saving would create it"
    typer.echo(f"{claim.source_label}: {claim.slug} ({action}; nothing saved)")
    deadline = claim.deadline.isoformat() if claim.deadline else None
    for item in preview.indicators:
        unit = f" {item.unit}" if item.unit and item.unit != "1" else ""
        if item.latest_value is None:
            latest = "no data yet"
        else:
            latest = f"latest {format_number(item.latest_value)}{unit} ({item.latest_period})"
        if item.target_period is None:
            due = "no single deciding period"
        elif item.target_data_expected_on is None:
            due = f"data for {item.target_period}: release date unknown"
        else:
            when = item.target_data_expected_on.isoformat()
            if deadline is None:
                verdict = "no deadline"
            elif item.published_before_deadline:
                verdict = f"before the deadline {deadline}"
            else:
                verdict = f"AFTER the deadline {deadline}: it will await data at its deadline"
            due = f"data for {item.target_period} expected {when}, {verdict}"
        typer.echo(f"  reads {item.key}: {latest}; {due}")
        if item.gates is not None:
            typer.echo(f"    gates: {PlausibilityGates.model_validate(item.gates).summary()}")
        if item.quarantined:
            typer.echo(f"    a fetched vintage is quarantined (not used): {item.quarantined}")
    if preview.status is not None:
        typer.echo(f"  status now: {preview.status.state.value} ({preview.status.reason})")
    for warning in preview.warnings:
        typer.echo(f"  {warning}")


def _dry_run_json(preview: DryRun) -> dict[str, object]:
    return {
        "file": preview.claim.source_label,
        "slug": preview.claim.slug,
        "exists": preview.exists,
        "saved": False,
        "indicators": [
            {
                **dataclasses.asdict(item),
                "target_data_expected_on": item.target_data_expected_on.isoformat()
                if item.target_data_expected_on
                else None,
            }
            for item in preview.indicators
        ],
        "status": preview.status.to_dict() if preview.status is not None else None,
        "warnings": [str(w) for w in preview.warnings],
    }


@claims_app.command("schema")
def schema(
    indicators: Annotated[
        bool,
        typer.Option(
            "--indicators",
            help="The schema of indicators.yaml (the catalogue, with its plausibility gates).",
        ),
    ] = False,
) -> None:
    """Print the JSON Schema of a claim file, or of indicators.yaml (for editors)."""
    from tracker.indicators import IndicatorCatalogueFile

    model = IndicatorCatalogueFile if indicators else ClaimFile
    typer.echo(json.dumps(model.model_json_schema(), indent=2, ensure_ascii=False))


@claims_app.command("sync")
def sync(
    path: PathArg = None,
    allow_empty: Annotated[
        bool,
        typer.Option(
            "--allow-empty", help="Allow a directory without claim files (withdraws all)."
        ),
    ] = False,
) -> None:
    """Write claim files to the database: all or nothing; removed files withdraw claims.

    In the same transaction, evaluates the claims that changed and re-evaluates the claims
    reading an indicator whose metadata changed (e.g. its publication lag).
    """
    from tracker.cli import fail, load_settings
    from tracker.status import lock_evaluation_runs

    settings = load_settings()
    target = path or settings.claims_dir
    url = settings.effective_database_url()
    engine = make_engine(url)
    try:
        upgrade_to_head(url, engine)
        with session_scope(engine) as session:
            # the evaluation lock before the first write, as an API save takes it (see
            # web.api._lock_before_writing): taken after, it could deadlock with a sweep
            lock_evaluation_runs(session)
            report = sync_claims_dir(session, target, allow_empty=allow_empty)
            # what changed is evaluated at once, in the same transaction (as a claim POSTed to
            # the API is): no reader sees a changed claim or indicator beside a status computed
            # before the change, left for the daily sweep to correct; `tracker serve`
            # evaluates after its sync in a start-up step instead
            evaluated, reevaluated = _evaluate_synced(session, report)
    except ClaimValidationError as exc:
        _print_issues(list(exc.errors))
        raise fail(f"{len(exc.errors)} error(s): nothing was changed in the database") from exc
    except DatabaseError as exc:
        raise fail(str(exc)) from exc
    finally:
        engine.dispose()
    _print_issues(list(report.warnings))
    for label, slugs in (
        ("created", report.created),
        ("updated", report.updated),
        ("reactivated", report.reactivated),
        ("withdrawn", report.withdrawn),
    ):
        for slug in slugs:
            typer.echo(f"{label}: {slug}")
    for change in report.catalogue_changes:
        typer.echo(change)
    for result in evaluated:
        typer.echo(f"evaluated: {result.slug}: {result.state.value} ({result.reason})")
    for result in reevaluated:
        typer.echo(f"re-evaluated: {result.slug}: {result.state.value} ({result.reason})")
    typer.echo(f"{report.summary()} in {describe_url(url)}")
    if evaluated:
        typer.echo(f"evaluated {len(evaluated)} claim(s) that changed")
    if reevaluated:
        typer.echo(f"re-evaluated {len(reevaluated)} claim(s) reading changed indicators")


def _evaluate_synced(
    session: Session, report: SyncReport
) -> tuple[list[EvaluationResult], list[EvaluationResult]]:
    """Evaluate what a sync changed, in its transaction: (the claims it created, changed,
    withdrew or reactivated; the other claims reading an indicator it created or changed).

    The latter only where that changed their inputs (`force=False`: the inputs key holds each
    indicator's unit, frequency, publication lag, revision window and projection model), so a
    new title or note re-evaluates nothing by itself.
    """
    from tracker.status import claims_using_indicators, evaluate_claims

    now = utcnow()
    slugs = [*report.created, *report.updated, *report.reactivated, *report.withdrawn]
    ids = _ids(session, select(Claim.id).where(col(Claim.slug).in_(slugs))) if slugs else []
    evaluated = evaluate_claims(session, now=now, claim_ids=ids) if ids else []
    keys = report.indicators_changed
    changed = (
        _ids(session, select(Indicator.id).where(col(Indicator.key).in_(keys))) if keys else []
    )
    done = set(ids)
    readers = [i for i in claims_using_indicators(session, changed) if i not in done]
    reevaluated = (
        evaluate_claims(session, now=now, claim_ids=readers, force=False) if readers else []
    )
    return evaluated, reevaluated


def _ids(session: Session, query: Any) -> list[int]:
    return [i for i in session.exec(query).all() if i is not None]


@claims_app.command("export")
def export(
    directory: Annotated[Path, typer.Argument(help="Directory to write claim files into.")],
    all_claims: Annotated[
        bool, typer.Option("--all", help="Export every claim, not only API-created ones.")
    ] = False,
) -> None:
    """Write claims from the database as claim files (plus the listings they refer to).

    indicators.yaml lists every stored indicator, those declared over the API or the dashboard
    included: put it in the claims directory and the files and the database agree again.
    """
    from tracker.cli import fail, load_settings

    settings = load_settings()
    engine = make_engine(settings.effective_database_url())
    directory.mkdir(parents=True, exist_ok=True)
    try:
        with session_scope(engine) as session:
            query = select(Claim).order_by(Claim.slug)  # type: ignore[arg-type]
            if not all_claims:
                query = query.where(Claim.origin == "api")
            rows = session.exec(query).all()
            claimants = session.exec(select(Claimant).order_by(Claimant.slug)).all()  # type: ignore[arg-type]
            sources = session.exec(select(SourceDocument).order_by(SourceDocument.slug)).all()  # type: ignore[arg-type]
            indicators = session.exec(select(Indicator).order_by(Indicator.key)).all()  # type: ignore[arg-type]
            for row in rows:
                (directory / f"{row.slug}.yaml").write_text(
                    dump_claim_yaml(claim_to_document(row)), encoding="utf-8"
                )
            listings = {
                "claimants.yaml": {
                    "claimants": [
                        _without_none(
                            {
                                "slug": c.slug,
                                "name": c.name,
                                "kind": c.kind,
                                "description": c.description,
                                "url": c.url,
                            }
                        )
                        for c in claimants
                    ]
                },
                "sources.yaml": {
                    "sources": [
                        _without_none(
                            {
                                "slug": s.slug,
                                "title": s.title,
                                "url": s.url,
                                "language": s.language,
                                "published_on": s.published_on.isoformat()
                                if s.published_on
                                else None,
                                "published_precision": s.published_precision,
                                "archived_sha256": s.archived_sha256,
                                "note": s.note,
                            }
                        )
                        for s in sources
                    ]
                },
                "indicators.yaml": {
                    "indicators": [
                        entry_from_row(i).model_dump(mode="json", exclude_none=True)
                        for i in indicators
                    ]
                },
            }
            for name, content in listings.items():
                (directory / name).write_text(
                    yaml.safe_dump(content, sort_keys=False, allow_unicode=True, width=100),
                    encoding="utf-8",
                )
    except DatabaseError as exc:
        raise fail(str(exc)) from exc
    finally:
        engine.dispose()
    declared = sum(1 for i in indicators if i.origin == "api")
    typer.echo(
        f"exported {len(rows)} claim(s) to {directory}; indicators.yaml lists all "
        f"{len(indicators)} stored indicator(s), {declared} of them declared over the API"
    )


def _without_none(values: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in values.items() if v is not None}
