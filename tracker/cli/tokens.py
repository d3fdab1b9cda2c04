"""`tracker token create|list|revoke`: bearer tokens for the write API (shown once, hashed)."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlmodel import Session

from tracker.auth import SCOPES, TokenNotFound, create_token, list_tokens, revoke_tokens
from tracker.clock import utcnow
from tracker.db import make_engine, session_scope

tokens_app = typer.Typer(help="Create, list and revoke API tokens.", no_args_is_help=True)


@tokens_app.command("create")
def create(
    name: Annotated[str, typer.Option("--name", help="A name to recognise the token by.")],
    scope: Annotated[
        list[str],
        typer.Option("--scope", help=f"Repeatable. One of: {', '.join(SCOPES)}."),
    ],
) -> None:
    """Create a token and print it ONCE (only a hash is stored)."""
    from tracker.cli import fail, load_settings

    settings = load_settings()
    engine = make_engine(settings.effective_database_url())
    try:
        with session_scope(engine) as session:
            issued = create_token(session, name, scope, now=utcnow())
            scopes = ", ".join(issued.row.scopes)
    except ValueError as exc:
        raise fail(str(exc)) from exc
    except Exception as exc:  # database unreachable or not migrated: one line, no traceback
        raise fail(f"cannot store the token: {type(exc).__name__}: {exc}".splitlines()[0]) from exc
    finally:
        engine.dispose()
    typer.echo(issued.plaintext)
    typer.echo(
        f"token {name!r} (prefix {issued.row.prefix}, scopes: {scopes}) created; "
        "copy it now, it is not shown again",
        err=True,
    )


@tokens_app.command("list")
def list_() -> None:
    """List tokens: name, prefix, scopes, created, last used, revoked (never the secret)."""
    from tracker.cli import load_settings

    engine = make_engine(load_settings().effective_database_url())
    try:
        with Session(engine) as session:
            rows = list_tokens(session)
    finally:
        engine.dispose()
    if not rows:
        typer.echo("no tokens")
        return
    for row in rows:
        used = row.last_used_at.isoformat(timespec="seconds") if row.last_used_at else "never"
        state = (
            f"revoked {row.revoked_at.isoformat(timespec='seconds')}" if row.revoked_at else "live"
        )
        typer.echo(
            f"{row.name}\ttrk_{row.prefix}_…\t{','.join(row.scopes)}\t"
            f"created {row.created_at.isoformat(timespec='seconds')}\tlast used {used}\t{state}"
        )


@tokens_app.command("revoke")
def revoke(
    name_or_prefix: Annotated[str, typer.Argument(help="Token name, or its prefix.")],
) -> None:
    """Revoke every token with this name or prefix (the row is kept, marked revoked)."""
    from tracker.cli import fail, load_settings

    engine = make_engine(load_settings().effective_database_url())
    try:
        with session_scope(engine) as session:
            rows = revoke_tokens(session, name_or_prefix, now=utcnow())
            names = [f"{r.name} (trk_{r.prefix}_…)" for r in rows]
    except TokenNotFound as exc:
        raise fail(str(exc)) from exc
    finally:
        engine.dispose()
    for name in names:
        typer.echo(f"revoked {name}")
