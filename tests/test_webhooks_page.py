"""The signed-in /webhooks page: subscriptions and each delivery's attempts, never a secret."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session
from test_dashboard import sign_in
from webhook_support import Receiver, judged_claim, resolve

from tracker.auth import create_token
from tracker.clock import system_clock
from tracker.web.app import create_app
from tracker.webhooks.delivery import make_client, run_once
from tracker.webhooks.subscriptions import create_subscription


def test_page_lists_subscriptions_and_attempts(engine, settings) -> None:
    settings = settings.model_copy(update={"webhook_allowed_hosts": "127.0.0.1"})
    receiver = Receiver(script=[503]).start()
    try:
        claim_id = judged_claim(engine)
        with Session(engine) as session:
            _, secret = create_subscription(
                session, settings, url=receiver.url, created_by="newsroom", now=system_clock()
            )
            token = create_token(session, "hooks", ["subscriptions"], now=system_clock()).plaintext
            session.commit()
        resolve(engine, claim_id)
        with make_client(settings) as http:
            run_once(engine, settings, holder="test", client=http)
    finally:
        receiver.stop()
    app = create_app(settings, engine=engine, clock=system_clock)
    with TestClient(app) as client:
        anonymous = client.get("/webhooks")
        assert anonymous.status_code == 401 and "Sign in" in anonymous.text
        assert receiver.url not in anonymous.text
        sign_in(client, token, "/webhooks")
        page = client.get("/webhooks")
    assert page.status_code == 200
    html = page.text
    assert receiver.url in html and "created" in html and "newsroom" in html
    assert "claim.resolved" in html and "claim.state_changed" in html
    assert "HTTP 503" in html and "retry" in html and 'href="/claims/colossus-wait"' in html
    assert secret not in html and secret.removeprefix("whsec_") not in html
