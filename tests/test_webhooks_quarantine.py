"""observation.quarantined: a damaged OWID body held back at ingest (the real pipeline of
tests/test_quarantine.py) writes its outbox event in the ingest's transaction; the fan-out
names the claims reading the indicator, so a subscription filtered to one of them gets it."""

from __future__ import annotations

import datetime as dt

from quarantine_support import CHN, CLAIM
from sqlmodel import Session, select
from test_ingest_support import T0
from test_quarantine import DAMAGED, T1, fetch, shipped  # noqa: F401 - the fixture

from tracker.models import WebhookDelivery, WebhookEvent
from tracker.webhooks import events as ev
from tracker.webhooks.delivery import fan_out
from tracker.webhooks.subscriptions import create_subscription


def test_a_quarantined_vintage_is_an_event_for_the_claims_reading_it(
    engine,
    settings,
    shipped,  # noqa: F811 - the fixture of test_quarantine
):
    with Session(engine) as session:
        for claims in ([CLAIM], ["some-other-claim"]):
            create_subscription(
                session,
                settings,
                url="https://hooks.example.org/x",
                events=[ev.QUARANTINED],
                filter={"claims": claims},
                created_by="t",
                now=T0,
                resolve=lambda host, port: ["93.184.216.34"],
            )
        session.commit()
    shipped.csv_for["CHN"] = DAMAGED
    result = fetch(engine, settings, shipped, T1)
    assert result.fetch.quarantined
    with Session(engine) as session:
        assert fan_out(session, settings, now=T1 + dt.timedelta(seconds=1)) == 1
        session.commit()
        event = session.exec(select(WebhookEvent)).one()
        delivery = session.exec(select(WebhookDelivery)).one()
    assert event.type == ev.QUARANTINED and event.fetch_run_id == result.fetch.fetch_run_id
    assert event.data["indicator"] == CHN and CLAIM in event.data["claims"]
    assert "cut short" in event.data["reason"]
    assert delivery.subscription_id == 1  # the one filtered to the claim reading CHN
    assert event.payload is not None and event.payload["type"] == ev.QUARANTINED
