"""Signed webhooks (the Standard Webhooks spec) on status changes, verdicts, deadlines and
quarantined data.

Data flow: a change (tracker.status, tracker.quarantine) writes its events into the outbox
(`events`) in its own transaction; the scheduler-lease holder fans each event out to the
matching subscriptions and delivers (`delivery`), signing (`signing`) and refusing non-public
destinations (`destinations`). Subscriptions are managed over the API (tracker.web.api_webhooks)
and on a signed-in page (tracker.web.webhooks_page).
"""
