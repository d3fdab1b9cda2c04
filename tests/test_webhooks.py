"""Webhooks end to end, in-process: subscriptions over the API, the outbox written with the
change it describes, signed deliveries to a real local receiver (verified by the
`standardwebhooks` package), retries, replays, refusals of non-public destinations, deadline
notices and the disabling of a subscription that keeps failing.

Deliveries here use the system clock (tracker.clock's default) because the receiver's
verification checks the webhook-timestamp against the machine's time; tests that move time
(backoff windows, disabling) use a FixedClock and no verification.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from webhook_support import Receiver, judged_claim, resolve

from tracker.auth import create_token
from tracker.clock import FixedClock, system_clock, use_clock
from tracker.config import Settings
from tracker.models import (
    Claim,
    Evaluation,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEvent,
    WebhookSubscription,
)
from tracker.web.app import create_app
from tracker.webhooks import events as ev
from tracker.webhooks.delivery import make_client, queue_deadline_notices, run_once
from tracker.webhooks.destinations import RefusedDestination, check_destination, non_public_reason
from tracker.webhooks.subscriptions import create_subscription


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture
def hook_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"webhook_allowed_hosts": "127.0.0.1", "webhook_retry_base": 0.01}
    )


def _token(engine: Engine, scopes: list[str]) -> str:
    with Session(engine) as session:
        issued = create_token(session, "hooks", scopes, now=system_clock())
        session.commit()
        return issued.plaintext


@pytest.fixture
def api(hook_settings: Settings, engine: Engine) -> Iterator[tuple[TestClient, dict[str, str]]]:
    app = create_app(hook_settings, engine=engine, clock=system_clock)
    with TestClient(app) as client:
        yield client, {"Authorization": f"Bearer {_token(engine, ['subscriptions'])}"}


def deliver(engine: Engine, settings: Settings) -> int:
    with make_client(settings) as client:
        return run_once(engine, settings, holder="test", client=client)


def test_create_deliver_verify_and_list(api, engine, hook_settings, receiver) -> None:
    client, auth = api
    claim_id = judged_claim(engine)
    answer = client.post("/api/v1/subscriptions", json={"url": receiver.url}, headers=auth)
    assert answer.status_code == 201, answer.text
    created = answer.json()
    secret = created["secret"]
    assert secret.startswith("whsec_")
    assert created["events"] == list(ev.EVENT_TYPES)  # omitted: every event
    resolve(engine, claim_id)
    assert deliver(engine, hook_settings) == 2
    bodies = receiver.verified(secret)  # raises unless every delivery is signed right
    assert sorted(b["type"] for b in bodies) == sorted([ev.STATE_CHANGED, ev.RESOLVED])
    served = client.get("/api/v1/claims/colossus-wait").json()["status"]
    for body in bodies:
        assert body["data"]["claim"]["slug"] == "colossus-wait"
        assert body["data"]["status"]["state"] == "resolved_true" == served["state"]
    resolved = next(b for b in bodies if b["type"] == ev.RESOLVED)["data"]
    assert resolved["final"] is True and resolved["overrides"] is False
    assert resolved["resolution"]["outcome"] == "true"
    changed = next(b for b in bodies if b["type"] == ev.STATE_CHANGED)["data"]
    assert changed["previous_state"] == "needs_review" and changed["state"] == "resolved_true"
    # the secret is never served again; the delivery log shows each attempt
    listed = client.get("/api/v1/subscriptions", headers=auth)
    assert listed.status_code == 200 and secret not in listed.text
    assert "secret" not in listed.json()[0]
    log = client.get(f"/api/v1/subscriptions/{created['id']}/deliveries", headers=auth).json()
    assert {d["status"] for d in log} == {"delivered"}
    assert {d["event_id"] for d in log} == {r.headers["webhook-id"] for r in receiver.requests}
    attempt = log[0]["attempt_log"][0]
    assert attempt["outcome"] == "ok" and attempt["http_status"] == 200
    assert attempt["latency_ms"] is not None
    # nothing more is due: a second run sends nothing
    assert deliver(engine, hook_settings) == 0
    assert len(receiver.requests) == 2


def test_scope_and_validation(api, engine, receiver) -> None:
    client, auth = api
    assert client.get("/api/v1/subscriptions").status_code == 401
    other = {"Authorization": f"Bearer {_token(engine, ['resolve'])}"}
    assert client.get("/api/v1/subscriptions", headers=other).status_code == 403
    bad = client.post(
        "/api/v1/subscriptions", json={"url": receiver.url, "events": ["nope"]}, headers=auth
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "events"
    bad = client.post(
        "/api/v1/subscriptions", json={"url": receiver.url, "filter": {"x": 1}}, headers=auth
    )
    assert bad.status_code == 422 and "filter" in bad.json()["detail"]
    assert client.get("/api/v1/subscriptions/99", headers=auth).status_code == 404


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://10.1.2.3/hook",
        "http://10.255.0.1:8080/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:8080/hook",
        "http://localhost:8080/hook",  # a name that resolves to loopback
        "http://[::ffff:127.0.0.1]/hook",  # IPv4-mapped IPv6
        "http://0.0.0.0/hook",
        "ftp://example.org/hook",
        "file:///etc/passwd",
    ],
)
def test_refused_destinations_answer_422(settings, engine, url) -> None:
    assert settings.webhook_allowed_hosts == ""  # the allow-list is unset
    app = create_app(settings, engine=engine, clock=system_clock)
    auth = {"Authorization": f"Bearer {_token(engine, ['subscriptions'])}"}
    with TestClient(app) as client:
        answer = client.post("/api/v1/subscriptions", json={"url": url}, headers=auth)
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert problem["errors"][0]["field"] == "url"
    assert "refused destination" in problem["detail"]
    with Session(engine) as session:
        assert session.exec(select(WebhookSubscription)).all() == []


def test_non_public_addresses() -> None:
    for address in (
        "127.0.0.1",
        "10.0.0.1",
        "192.168.1.1",
        "172.16.0.1",
        "169.254.169.254",
        "::1",
        "fe80::1",
        "fc00::1",
        "224.0.0.1",
        "0.0.0.0",
        "::ffff:10.0.0.1",
        "100.64.0.1",
        "240.0.0.1",
    ):
        assert non_public_reason(address) is not None, address
    for address in ("93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "::ffff:8.8.8.8"):
        assert non_public_reason(address) is None, address
    # a name resolving to a private address, even among public ones, is refused
    with pytest.raises(RefusedDestination, match=r"10\.0\.0\.7"):
        check_destination(
            "https://hooks.example.org/x", [], resolve=lambda h, p: ["8.8.8.8", "10.0.0.7"]
        )
    assert check_destination("https://hooks.example.org/x", [], resolve=lambda h, p: ["8.8.8.8"])
    # the allow-list names hosts allowed anyway
    assert check_destination("http://localhost:1/x", ["localhost"])


def test_destination_checked_again_at_delivery(engine, hook_settings, settings, receiver) -> None:
    """Allowed at creation, refused at delivery (here: the allow-list changed; DNS may too):
    a logged failed attempt, nothing sent."""
    claim_id = judged_claim(engine)
    with Session(engine) as session:
        create_subscription(
            session, hook_settings, url=receiver.url, created_by="t", now=system_clock()
        )
        session.commit()
    resolve(engine, claim_id)
    assert deliver(engine, settings) == 2  # settings: the allow-list unset
    assert receiver.requests == []
    with Session(engine) as session:
        attempts = session.exec(select(WebhookAttempt)).all()
        deliveries = session.exec(select(WebhookDelivery)).all()
    assert {a.outcome for a in attempts} == {"refused"}
    assert all("127.0.0.1 is a loopback address" in (a.error or "") for a in attempts)
    assert {d.status for d in deliveries} == {"pending"}  # retried later (DNS can change)


def _subscribe(engine: Engine, settings: Settings, url: str, **kwargs) -> tuple[int, str]:
    with Session(engine) as session:
        sub, secret = create_subscription(
            session, settings, url=url, created_by="t", now=system_clock(), **kwargs
        )
        session.commit()
        assert sub.id is not None
        return sub.id, secret


def test_retries_after_500_and_429_with_the_same_webhook_id(engine, hook_settings, receiver):
    receiver.script = [500, (429, {"Retry-After": "1"}), 200]
    claim_id = judged_claim(engine)
    _, secret = _subscribe(engine, hook_settings, receiver.url, events=[ev.RESOLVED])
    resolve(engine, claim_id)
    assert deliver(engine, hook_settings) == 1  # 500
    time.sleep(0.1)  # the first backoff step (webhook_retry_base 0.01 s, with jitter)
    assert deliver(engine, hook_settings) == 1  # 429, Retry-After: 1
    with Session(engine) as session:
        delivery = session.exec(select(WebhookDelivery)).one()
        last = session.exec(select(WebhookAttempt).where(WebhookAttempt.number == 2)).one()
    assert delivery.status == "pending"
    assert delivery.next_attempt_at - last.started_at >= dt.timedelta(seconds=1)
    assert deliver(engine, hook_settings) == 0  # Retry-After honoured: not due yet
    time.sleep(1.1)
    assert deliver(engine, hook_settings) == 1  # 200
    ids = {r.headers["webhook-id"] for r in receiver.requests}
    assert len(receiver.requests) == 3 and len(ids) == 1
    assert [r.answered for r in receiver.requests] == [500, 429, 200]
    receiver.verified(secret)  # every try carries a valid signature
    with Session(engine) as session:
        attempts = session.exec(select(WebhookAttempt).order_by(WebhookAttempt.number)).all()
        delivery = session.exec(select(WebhookDelivery)).one()
    assert [(a.outcome, a.http_status) for a in attempts] == [
        ("retry", 500),
        ("retry", 429),
        ("ok", 200),
    ]
    assert delivery.status == "delivered" and delivery.attempts == 3


def test_redirect_is_not_followed_and_client_error_is_final(engine, hook_settings, receiver):
    receiver.script = [(302, {"Location": "http://169.254.169.254/"})]
    claim_id = judged_claim(engine)
    _subscribe(engine, hook_settings, receiver.url, events=[ev.RESOLVED])
    resolve(engine, claim_id)
    deliver(engine, hook_settings)
    assert len(receiver.requests) == 1
    with Session(engine) as session:
        attempt = session.exec(select(WebhookAttempt)).one()
        delivery = session.exec(select(WebhookDelivery)).one()
    assert attempt.outcome == "failed" and "redirects are not followed" in (attempt.error or "")
    assert delivery.status == "failed"


def test_outbox_rolled_back_with_its_status_change(engine, hook_settings, receiver) -> None:
    claim_id = judged_claim(engine)
    _subscribe(engine, hook_settings, receiver.url)
    resolve(engine, claim_id, commit=False)  # the verdict and its re-evaluation roll back
    with Session(engine) as session:
        assert session.exec(select(WebhookEvent)).all() == []
        assert session.get(Claim, claim_id).status_state == "needs_review"  # type: ignore[union-attr]
    assert deliver(engine, hook_settings) == 0
    assert receiver.requests == []
    resolve(engine, claim_id)  # committed: its events are written with it
    with Session(engine) as session:
        types = sorted(e.type for e in session.exec(select(WebhookEvent)).all())
        evaluation = session.exec(select(Evaluation).order_by(Evaluation.id.desc())).first()
    assert types == sorted([ev.STATE_CHANGED, ev.RESOLVED])
    assert evaluation is not None and evaluation.state == "resolved_true"


def test_override_and_replay(api, engine, hook_settings, receiver) -> None:
    client, auth = api
    claim_id = judged_claim(engine)
    created = client.post(
        "/api/v1/subscriptions",
        json={"url": receiver.url, "events": [ev.VERDICT_OVERRIDDEN]},
        headers=auth,
    ).json()
    resolve(engine, claim_id)
    resolve(engine, claim_id, "false", note="the claimant's own later statement contradicts it")
    assert deliver(engine, hook_settings) == 1
    (body,) = receiver.verified(created["secret"])
    assert body["type"] == ev.VERDICT_OVERRIDDEN
    assert body["data"]["previous_outcome"] == "true" and body["data"]["outcome"] == "false"
    assert body["data"]["status"]["state"] == "resolved_false"
    delivery_id = client.get(
        f"/api/v1/subscriptions/{created['id']}/deliveries", headers=auth
    ).json()[0]["id"]
    replay = client.post(
        f"/api/v1/subscriptions/{created['id']}/deliveries/{delivery_id}/replay", headers=auth
    )
    assert replay.status_code == 202 and replay.json()["status"] == "pending"
    assert deliver(engine, hook_settings) == 1
    first, again = receiver.requests
    assert first.headers["webhook-id"] == again.headers["webhook-id"] and first.body == again.body
    log = client.get(f"/api/v1/subscriptions/{created['id']}/deliveries", headers=auth).json()
    assert [a["replay"] for a in log[0]["attempt_log"]] == [False, True]
    # rotating the secret: the new one verifies; the old one still does for a grace period
    rotated = client.post(
        f"/api/v1/subscriptions/{created['id']}/rotate-secret", headers=auth
    ).json()
    assert rotated["secret"] != created["secret"]
    client.post(
        f"/api/v1/subscriptions/{created['id']}/deliveries/{delivery_id}/replay", headers=auth
    )
    deliver(engine, hook_settings)
    latest = receiver.requests[-1]
    for secret in (rotated["secret"], created["secret"]):
        from standardwebhooks import Webhook

        Webhook(secret).verify(latest.body, latest.headers)
    assert client.delete(f"/api/v1/subscriptions/{created['id']}", headers=auth).status_code == 204
    assert client.get("/api/v1/subscriptions", headers=auth).json() == []


def test_filter_by_claim_and_tag(engine, hook_settings, receiver) -> None:
    claim_id = judged_claim(engine)
    _subscribe(engine, hook_settings, receiver.url, filter={"claims": ["another-claim"]})
    _subscribe(engine, hook_settings, receiver.url, filter={"tags": ["energy"]})
    resolve(engine, claim_id)
    deliver(engine, hook_settings)
    with Session(engine) as session:
        deliveries = session.exec(select(WebhookDelivery)).all()
    assert {d.subscription_id for d in deliveries} == {2}  # only the matching tag
    assert len(receiver.requests) == 2


def test_deadline_notice_once_per_claim_subscription_and_deadline(engine, hook_settings):
    now = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)
    with use_clock(FixedClock(now)):
        judged_claim(engine, slug="agi-2026", deadline=dt.date(2026, 12, 3))
        judged_claim_far = None  # a claim beyond the horizon gets nothing
        del judged_claim_far
        with Session(engine) as session:
            for days in (7, 3):
                create_subscription(
                    session,
                    hook_settings,
                    url="http://127.0.0.1:9/x",
                    deadline_days=days,
                    events=[ev.DEADLINE_APPROACHING],
                    created_by="t",
                    now=now,
                )
            session.commit()
        with Session(engine) as session:
            assert queue_deadline_notices(session, now=now) == 1  # 5 days left: only N=7
            assert queue_deadline_notices(session, now=now) == 0
            later = now + dt.timedelta(days=2)
            assert queue_deadline_notices(session, now=later) == 1  # 3 days left: N=3 now too
            assert queue_deadline_notices(session, now=later) == 0
            session.commit()
            rows = session.exec(select(WebhookEvent)).all()
    assert [r.data["days_left"] for r in rows] == [5, 3]
    assert {r.subscription_id for r in rows} == {1, 2}


def test_failing_subscription_is_disabled_after_three_days(engine, hook_settings, receiver):
    receiver.script = [500] * 50
    clock = FixedClock(dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC))
    with use_clock(clock):
        claim_id = judged_claim(engine)
        sub_id, _ = _subscribe(engine, hook_settings, receiver.url, events=[ev.RESOLVED])
        with Session(engine) as session:  # _subscribe stamps system time: align it
            sub = session.get(WebhookSubscription, sub_id)
            sub.created_at = clock()
            session.add(sub)
            session.commit()
        resolve(engine, claim_id)
        settings = hook_settings.model_copy(update={"webhook_retry_base": 60.0})
        deliver(engine, settings)
        for _ in range(30):  # a day and more of backoff, each retry when due
            clock.advance(dt.timedelta(hours=3))
            deliver(engine, settings)
            with Session(engine) as session:
                sub = session.get(WebhookSubscription, sub_id)
                if sub.disabled_at is not None:
                    break
    assert sub.disabled_at is not None
    assert sub.disabled_at - sub.failing_since >= dt.timedelta(hours=72)
    assert "HTTP 500" in (sub.disabled_reason or "")
    with Session(engine) as session:
        attempts = session.exec(select(WebhookAttempt)).all()
    assert len(attempts) >= 10  # retried throughout (never more than once an hour here)
    span = max(a.started_at for a in attempts) - min(a.started_at for a in attempts)
    assert span >= dt.timedelta(hours=24)


def test_status_events() -> None:
    move = ev.StatusMove(1, 2, "open", "on_track", "open", "off_track")
    assert [t for t, _ in ev.status_events(move)] == [ev.TREND_CHANGED]
    move = ev.StatusMove(1, 2, "open", "on_track", "open", "insufficient_data")
    assert ev.status_events(move) == []  # not a flip
    move = ev.StatusMove(1, 2, "awaiting_data", None, "needs_review", None, "data_overdue")
    assert [t for t, _ in ev.status_events(move)] == [
        ev.STATE_CHANGED,
        ev.NEEDS_REVIEW,
        ev.DATA_OVERDUE,
    ]
    assert ev.status_events(ev.StatusMove(1, 2, None, None, "open", "on_track")) == []


def test_no_subscription_no_outbox_rows(engine) -> None:
    claim_id = judged_claim(engine)
    resolve(engine, claim_id)
    with Session(engine) as session:
        assert session.exec(select(WebhookEvent)).all() == []


def test_delivery_connects_to_the_checked_address(engine, hook_settings, receiver) -> None:
    """The request goes to the address the check resolved (no second DNS lookup): a name
    that resolves nowhere but through the check's resolver still reaches the receiver, with
    its own name in the Host header."""
    port = receiver.server.server_address[1]
    url = f"http://hooks.example.test:{port}/hook"
    settings = hook_settings.model_copy(update={"webhook_allowed_hosts": "hooks.example.test"})
    looked_up: list[str] = []

    def resolver(host: str, _port: int) -> list[str]:
        looked_up.append(host)
        return ["127.0.0.1"]

    claim_id = judged_claim(engine)
    with Session(engine) as session:
        _, secret = create_subscription(
            session,
            settings,
            url=url,
            events=[ev.RESOLVED],
            created_by="t",
            now=system_clock(),
            resolve=resolver,
        )
        session.commit()
    resolve(engine, claim_id)
    with make_client(settings) as client:
        assert run_once(engine, settings, holder="t", client=client, resolve=resolver) == 1
    (request,) = receiver.requests
    assert request.headers["host"] == f"hooks.example.test:{port}"
    assert looked_up == ["hooks.example.test", "hooks.example.test"]  # creation, delivery
    receiver.verified(secret)


def test_disabled_subscription_says_why_and_can_be_enabled(api, engine, receiver) -> None:
    client, auth = api
    created = client.post("/api/v1/subscriptions", json={"url": receiver.url}, headers=auth)
    sub_id = created.json()["id"]
    with Session(engine) as session:
        sub = session.get(WebhookSubscription, sub_id)
        sub.failing_since = system_clock() - dt.timedelta(days=3)
        sub.disabled_at = system_clock()
        sub.disabled_reason = "disabled after failing since …; last error: HTTP 500"
        session.add(sub)
        session.commit()
    shown = client.get(f"/api/v1/subscriptions/{sub_id}", headers=auth).json()
    assert shown["active"] is False and "HTTP 500" in shown["disabled_reason"]
    enabled = client.post(f"/api/v1/subscriptions/{sub_id}/enable", headers=auth).json()
    assert enabled["active"] is True and enabled["disabled_reason"] is None


def test_a_huge_answer_is_read_only_up_to_the_cap(engine, hook_settings, receiver) -> None:
    receiver.script = [(200, {"x-body-bytes": str(64 * 1024 * 1024)})]
    claim_id = judged_claim(engine)
    _subscribe(engine, hook_settings, receiver.url, events=[ev.RESOLVED])
    resolve(engine, claim_id)
    assert deliver(engine, hook_settings) == 1
    with Session(engine) as session:
        assert session.exec(select(WebhookDelivery)).one().status == "delivered"
    deadline = time.monotonic() + 5
    while receiver.cut_short == 0 and time.monotonic() < deadline:
        time.sleep(0.05)  # the receiver's write fails once the client has closed
    assert receiver.cut_short == 1  # 64 MiB offered, 16 KiB read: the client hung up
