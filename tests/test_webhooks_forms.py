"""Managing subscriptions on the signed-in /webhooks page (issue 17, item 1): create (the secret
shown once, after the redirect), refused destinations and bad fields shown beside the form,
delete after a confirmation, rotate the secret, re-enable, replay a delivery; every form needs
the session's CSRF token and a token with the `subscriptions` scope. TestClient on SQLite and
PostgreSQL, through the same functions the API uses."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from test_dashboard import csrf_of, make_token, sign_in
from webhook_support import judged_claim, resolve

from tracker.clock import system_clock
from tracker.config import Settings
from tracker.models import WebhookDelivery, WebhookSubscription
from tracker.web.app import create_app
from tracker.webhooks.delivery import fan_out
from tracker.webhooks.subscriptions import create_subscription

ALLOWED = "http://127.0.0.1:9/hook"  # allowed by the test's TRACKER_WEBHOOK_ALLOWED_HOSTS
SECRET_RE = re.compile(r'<code class="secret">(whsec_[^<]+)</code>')


def _client(settings: Settings, engine: Engine, allowed: str) -> Iterator[TestClient]:
    tuned = settings.model_copy(update={"webhook_allowed_hosts": allowed})
    with TestClient(create_app(tuned, engine=engine, clock=system_clock)) as client:
        yield client


@pytest.fixture
def hooks(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    """Signed in with a `subscriptions` token; 127.0.0.1 allowed as a destination."""
    for client in _client(settings, engine, "127.0.0.1"):
        sign_in(client, make_token(engine, "subscriptions", name="hooks"), "/webhooks")
        yield client


def _subs(engine: Engine) -> list[WebhookSubscription]:
    with Session(engine) as session:
        return list(session.exec(select(WebhookSubscription)).all())


def _post(client: TestClient, path: str, **data: object) -> httpx.Response:
    csrf = csrf_of(client.get("/webhooks").text)
    return client.post(path, data={"csrf_token": csrf, **data}, follow_redirects=False)


def test_create_shows_the_secret_once(hooks: TestClient, engine: Engine) -> None:
    csrf = csrf_of(hooks.get("/webhooks").text)
    r = hooks.post(
        "/webhooks",
        data={
            "csrf_token": csrf,
            "url": ALLOWED,
            "events": ["claim.resolved", "claim.deadline_approaching"],
            "claims": "colossus-wait, other-claim",
            "tags": "ai",
            "claimant": "",
            "deadline_days": "14",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/webhooks#secret"
    cookie = r.headers["set-cookie"]
    assert "whsec_" not in cookie  # the secret crosses to the next page sealed
    assert "httponly" in cookie.lower() and "path=/webhooks" in cookie.lower()
    (sub,) = _subs(engine)
    assert (sub.url, sub.events, sub.deadline_days) == (
        ALLOWED,
        ["claim.resolved", "claim.deadline_approaching"],
        14,
    )
    assert sub.filter == {"claims": ["colossus-wait", "other-claim"], "tags": ["ai"]}
    assert sub.created_by == "hooks"
    page = hooks.get("/webhooks")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    shown = SECRET_RE.findall(page.text)
    assert shown == [sub.secret]
    assert f"Subscription #{sub.id} created" in page.text
    again = hooks.get("/webhooks")  # reloaded: never shown again
    assert sub.secret not in again.text and "whsec_" not in again.text
    assert ALLOWED in again.text


def test_a_reveal_cookie_names_one_secret_and_carries_none(
    hooks: TestClient, engine: Engine
) -> None:
    """The cookie holds no secret; kept and sent again after a rotation, it reveals nothing."""
    r = _post(hooks, "/webhooks", url=ALLOWED, deadline_days="7")
    kept = hooks.cookies.get("tracker_reveal", path="/webhooks")
    assert r.status_code == 303 and kept
    (sub,) = _subs(engine)
    assert sub.secret not in kept and sub.secret.removeprefix("whsec_") not in kept
    assert SECRET_RE.findall(hooks.get("/webhooks").text) == [sub.secret]
    assert _post(hooks, f"/webhooks/{sub.id}/rotate-secret").status_code == 303
    hooks.get("/webhooks")  # the rotation's secret shown (and its cookie dropped)
    hooks.cookies.set("tracker_reveal", kept, path="/webhooks")
    assert "whsec_" not in hooks.get("/webhooks").text  # the old cookie names the old secret
    hooks.cookies.set("tracker_reveal", kept[:-4] + "AAAA", path="/webhooks")
    assert "whsec_" not in hooks.get("/webhooks").text  # a forged one reveals nothing


def test_a_refused_destination_is_a_form_error(settings: Settings, engine: Engine) -> None:
    for client in _client(settings, engine, ""):  # no allow-list: loopback is refused
        sign_in(client, make_token(engine, "subscriptions", name="hooks"), "/webhooks")
        r = _post(client, "/webhooks", url="http://127.0.0.1:8080/x", tags="ai energy")
        assert r.status_code == 422
        html = r.text
        assert "Nothing was created: Destination URL: refused destination" in html
        assert 'id="create-error" tabindex="-1" data-focus-on-load autofocus' in html
        assert 'aria-invalid="true" aria-describedby="err-url"' in html
        assert 'value="http://127.0.0.1:8080/x"' in html and 'value="ai energy"' in html
        bad = _post(client, "/webhooks", url=ALLOWED, deadline_days="soon")
        assert bad.status_code == 422
        assert "Days before a deadline: &#39;soon&#39; is not a whole number" in bad.text
    assert _subs(engine) == []


def test_forms_need_the_csrf_token_and_the_scope(settings: Settings, engine: Engine) -> None:
    for client in _client(settings, engine, "127.0.0.1"):
        assert client.post("/webhooks", data={"url": ALLOWED}).status_code == 401
        sign_in(client, make_token(engine, "resolve", name="reviewer"), "/")
        r = _post(client, "/webhooks", url=ALLOWED)
        assert r.status_code == 403
        assert "lacks the <code>subscriptions</code> scope" in r.text
        client.cookies.clear()
        sign_in(client, make_token(engine, "subscriptions", name="hooks"), "/webhooks")
        forged = client.post("/webhooks", data={"url": ALLOWED, "csrf_token": "forged"})
        assert forged.status_code == 403 and "security token" in forged.text
        assert client.post("/webhooks", data={"url": ALLOWED}).status_code == 403
    assert _subs(engine) == []


def test_delete_asks_first_then_deletes(hooks: TestClient, engine: Engine) -> None:
    with Session(engine) as session:
        sub, _ = create_subscription(
            session,
            hooks.app.state.settings,
            url=ALLOWED,
            created_by="x",
            now=system_clock(),
        )
        session.commit()
        sub_id = sub.id
    confirm = hooks.get(f"/webhooks/{sub_id}/delete")
    assert confirm.status_code == 200
    assert f"Delete subscription #{sub_id}?" in confirm.text and ALLOWED in confirm.text
    r = hooks.post(
        f"/webhooks/{sub_id}/delete",
        data={"csrf_token": csrf_of(confirm.text)},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert ALLOWED not in hooks.get("/webhooks").text
    (row,) = _subs(engine)
    assert row.deleted_at is not None
    assert hooks.get(f"/webhooks/{sub_id}/delete").status_code == 404


def test_rotate_enable_and_replay(hooks: TestClient, engine: Engine) -> None:
    settings = hooks.app.state.settings
    claim_id = judged_claim(engine)
    with Session(engine) as session:
        sub, old = create_subscription(
            session, settings, url=ALLOWED, created_by="x", now=system_clock()
        )
        session.commit()
        sub_id = sub.id
    resolve(engine, claim_id)
    with Session(engine) as session:
        fan_out(session, settings, now=system_clock())
        delivery = session.exec(select(WebhookDelivery)).first()
        assert delivery is not None
        delivery.status, delivery_id = "failed", delivery.id
        row = session.get(WebhookSubscription, sub_id)
        assert row is not None
        row.disabled_at, row.disabled_reason = system_clock(), "failing for 3 days"
        session.add_all([delivery, row])
        session.commit()
    page = hooks.get("/webhooks").text
    assert "failing for 3 days" in page and f"Re-enable #{sub_id}" in page
    # rotate: the new secret once, the old one still signs for a day
    r = _post(hooks, f"/webhooks/{sub_id}/rotate-secret")
    assert r.status_code == 303
    shown = SECRET_RE.findall(hooks.get("/webhooks").text)
    (now_sub,) = _subs(engine)
    assert shown == [now_sub.secret] and now_sub.secret != old
    assert now_sub.previous_secret == old
    assert "whsec_" not in hooks.get("/webhooks").text
    # re-enable
    assert _post(hooks, f"/webhooks/{sub_id}/enable").status_code == 303
    (now_sub,) = _subs(engine)
    assert now_sub.disabled_at is None and now_sub.disabled_reason is None
    # replay: pending again; an unknown delivery is an error beside its subscription
    assert _post(hooks, f"/webhooks/{sub_id}/deliveries/{delivery_id}/replay").status_code == 303
    with Session(engine) as session:
        again = session.get(WebhookDelivery, delivery_id)
        assert again is not None and again.status == "pending"
    missing = _post(hooks, f"/webhooks/{sub_id}/deliveries/999999/replay")
    assert missing.status_code == 404
    assert f"Nothing was replayed: no delivery 999999 for subscription {sub_id}" in missing.text
