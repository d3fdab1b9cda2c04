"""The `tracker` command line (Typer). Each stage adds its commands from its own module."""

from __future__ import annotations

import errno
import socket
import sys
from typing import Annotated, cast

import typer
from sqlalchemy.exc import SQLAlchemyError

from tracker.cli.claims import claims_app
from tracker.cli.data import fetch_command, indicators_command, scheduler_command
from tracker.cli.evaluate import evaluate_command
from tracker.cli.tokens import tokens_app
from tracker.config import Settings
from tracker.db import (
    DatabaseError,
    database_password,
    describe_url,
    first_line,
    upgrade_to_head,
)
from tracker.web.sockets import WorkerSocket, reuse_port_supported, tcp_socket

app = typer.Typer(
    name="tracker",
    help="Track dated public predictions against live public data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(claims_app, name="claims")
app.add_typer(tokens_app, name="token")
app.command("evaluate")(evaluate_command)
app.command("fetch")(fetch_command)
app.command("indicators")(indicators_command)
app.command("scheduler")(scheduler_command)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print one clear line on stderr and return the Exit to raise."""
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code)


def load_settings() -> Settings:
    """The settings of a command that does work; also sets up its logging (TRACKER_LOG_LEVEL)."""
    from tracker.cli.logs import configure_logging

    try:
        settings = Settings()
    except Exception as exc:  # pydantic ValidationError: name the variable
        raise fail(f"invalid configuration: {exc}".splitlines()[0]) from exc
    configure_logging(settings)
    return settings


@app.command()
def migrate() -> None:
    """Upgrade the database (TRACKER_DATABASE_URL) to the newest migration."""
    settings = load_settings()
    url = settings.effective_database_url()
    try:
        revision = upgrade_to_head(url)
    except DatabaseError as exc:
        raise fail(str(exc)) from exc
    typer.echo(f"database {describe_url(url)} is at revision {revision} (head)")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help=(
                "Worker processes sharing the port (for PostgreSQL; on SQLite every write "
                "still takes the one database lock). Start-up work runs once, before them."
            ),
        ),
    ] = 1,
) -> None:
    """Migrate, load claims and bundled data, and serve the API and dashboard (uvicorn)."""
    import uvicorn

    from tracker.startup import StartupError, prepare_database
    from tracker.web.app import create_app

    settings = load_settings()
    # The port first: a busy one is one line before any start-up work, not uvicorn's error
    # after it (and after a "serving" line whose URL answers from the other process).
    sock = bind_socket(host, port)
    with sock:
        try:
            summary = prepare_database(settings)
        except (DatabaseError, StartupError) as exc:
            raise fail(str(exc)) from exc
        for line in summary:
            typer.echo(line)
        port = sock.getsockname()[1]  # the one the system chose for --port 0
        typer.echo(
            f"tracker serving on http://{host}:{port}/  (API docs: http://{host}:{port}/docs)"
        )
        config = uvicorn.Config(
            # several processes: each builds its own app from the same environment
            create_app(settings) if workers == 1 else "tracker.web.workers:app_from_environment",
            factory=workers > 1,
            workers=workers,
            host=host,
            port=port,
            log_config=None,  # tracker.cli.logs has set up uvicorn's loggers like tracker's
            log_level=settings.log_level.lower(),
        )
        server = uvicorn.Server(config)
        try:
            if workers > 1:
                from uvicorn.supervisors import Multiprocess

                Multiprocess(config, sockets=worker_sockets(host, port, sock)).run()
                return
            server.run(sockets=[sock])
        except KeyboardInterrupt:  # Ctrl-C: uvicorn re-raises it after a clean shutdown
            pass
        except OSError as exc:  # listen() lost a race with another process bound to the port
            raise fail(_bind_error(host, port, exc)) from exc
    if not server.started:  # e.g. the app's start-up failed (uvicorn has logged why)
        raise typer.Exit(3)


def bind_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to host:port for uvicorn to listen on (it calls listen() when it is
    ready to answer, so until then connections are refused rather than left hanging). With
    several workers on Linux it only holds the port: each worker listens on its own."""
    sock = tcp_socket(host)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise fail(_bind_error(host, port, exc)) from exc
    return sock


def worker_sockets(host: str, port: int, held: socket.socket) -> list[socket.socket]:
    """What uvicorn's supervisor hands each worker: on Linux a stand-in that becomes the
    worker's own SO_REUSEPORT socket (tracker.web.sockets: the kernel spreads connections over
    the workers evenly), elsewhere the parent's socket, shared (one worker may then accept most
    of a burst's connections; see reuse_port_supported for why)."""
    if not reuse_port_supported():
        return [held]
    # The port once more, just before the workers join it: the parent's socket does not
    # listen, so another `tracker serve` could bind it during our start-up work, and its
    # workers (SO_REUSEPORT too) would then share our port instead of failing. A socket
    # without SO_REUSEPORT cannot bind where such a group already listens, so the second of
    # the two to get here says the port is in use, unless the first's workers do not listen
    # yet (their app still starting, a second or two): that window remains.
    bind_socket(host, port).close()
    return cast("list[socket.socket]", [WorkerSocket(host, port)])


def _bind_error(host: str, port: int, exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return (
            f"port {port} on {host} is already in use (another tracker?); stop it or choose "
            "another port with --port"
        )
    reason = exc.strerror or str(exc)
    return f"cannot listen on {host} port {port}: {reason} (check --host and --port)"


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
    except (DatabaseError, SQLAlchemyError) as exc:
        # any command, on a database that fails under it: the one `error:` line the README
        # promises (no traceback), with the database password never in it
        try:
            fail(database_failure(exc))
        finally:
            sys.exit(1)


def database_failure(exc: BaseException) -> str:
    """One line for a database failure, its URL's password (from the settings) scrubbed."""
    try:
        url: str | None = Settings().effective_database_url()
    except Exception:  # the settings themselves are broken: nothing to name or scrub by
        url = None
    password = database_password(url) if url else None
    if isinstance(exc, DatabaseError):
        text = str(exc)
    else:
        where = ""
        if url:
            try:
                where = f" {describe_url(url)}"
            except Exception:  # unparseable: the driver's line says enough
                where = ""
        text = f"database{where} failed: {first_line(exc)}"
    if password:
        text = text.replace(password, "***")
    return text
