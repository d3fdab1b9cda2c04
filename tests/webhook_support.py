"""A real HTTP receiver for webhook tests (a local server on a free port) and claim helpers.

The receiver records every request it gets (headers, body) and answers from a script: a
status with headers, or a stall (the request is held until released: a delivery in flight).
Verification is by the `standardwebhooks` package, not by tracker's code.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session
from standardwebhooks import Webhook

from tracker.models import Claim, Claimant, ClaimRevision, Criterion
from tracker.status import evaluate_claims, record_manual_resolution


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    answered: int | None = None  # the status sent back (None: stalled, never answered)


@dataclass
class Receiver:
    script: list[Any] = field(default_factory=list)  # per request: int, (int, headers), "stall"
    requests: list[Received] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    got_request: threading.Event = field(default_factory=threading.Event)
    cut_short: int = 0  # answers whose body the client did not read to the end

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                item = Received({k.lower(): v for k, v in self.headers.items()}, body)
                receiver.requests.append(item)
                action = receiver.script.pop(0) if receiver.script else 200
                receiver.got_request.set()
                if action == "stall":
                    receiver.release.wait(60)
                    return  # the client is gone: answer nothing
                status, headers = action if isinstance(action, tuple) else (action, {})
                body = b"x" * int(headers.pop("x-body-bytes", 2))
                # noted before the answer goes out: once the client has read it, a test may
                # look (noted after, a loaded machine let a test see None for a 200 it got)
                item.answered = status
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    receiver.cut_short += 1  # the client stopped reading and closed

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def verified(self, secret: str) -> list[dict[str, Any]]:
        """Every request's body, each verified by standardwebhooks (raises on a bad one)."""
        hook = Webhook(secret)
        return [hook.verify(r.body, r.headers) for r in self.requests]


def judged_claim(
    engine: Engine, slug: str = "colossus-wait", claimant_slug: str = "elon-musk", **extra: Any
) -> int:
    """A judged claim whose deadline (2026-06-30) has passed, evaluated once (no event: a
    claim's first evaluation is not a change). Returns its id."""
    with Session(engine) as session:
        person = Claimant(slug=claimant_slug, name=claimant_slug)
        session.add(person)
        session.flush()
        claim = Claim(
            slug=slug,
            title=extra.pop("title", "Connecting Colossus 2 takes a year"),
            claimant_id=person.id or 0,
            deadline=extra.pop("deadline", dt.date(2026, 6, 30)),
            kind="judged",
            tags=extra.pop("tags", ["ai", "energy"]),
            content_hash="0" * 64,
            stated_on=dt.date(2026, 1, 6),
            **extra,
        )
        session.add(claim)
        session.flush()
        assert claim.id is not None
        session.add(
            Criterion(
                claim_id=claim.id,
                key="fact",
                kind="judged",
                spec={"key": "fact", "type": "judged", "rubric": "Did it take a year?"},
            )
        )
        session.add(
            ClaimRevision(
                claim_id=claim.id, version=1, change="created", content_hash="0" * 64, content={}
            )
        )
        session.flush()
        evaluate_claims(session, now=_now(), claim_ids=[claim.id])
        session.commit()
        return claim.id


def _now() -> dt.datetime:
    from tracker.clock import utcnow

    return utcnow()


def resolve(
    engine: Engine,
    claim_id: int,
    outcome: str = "true",
    *,
    note: str | None = None,
    commit: bool = True,
) -> None:
    """A reviewer's verdict on the claim, committed (or rolled back when commit=False)."""
    with Session(engine) as session:
        claim = session.get(Claim, claim_id)
        assert claim is not None
        record_manual_resolution(
            session,
            claim,
            outcome=outcome,
            decided_by="reviewer",
            rationale="the grid connection took 13 months",
            evidence=["https://example.org/report"],
            note=note,
            now=_now(),
        )
        if commit:
            session.commit()
        else:
            session.rollback()
