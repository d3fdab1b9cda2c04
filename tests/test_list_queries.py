"""The claim list costs a constant number of SQL statements per page, whatever the page size or
the number of claims (keyset pagination, claimant and status joined in: no N+1), and never an
OFFSET scan."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session
from test_api_support import make_claim, make_evaluation

from tracker.web.app import create_app


def seed(engine: sa.Engine, start: int, count: int) -> None:
    with Session(engine) as session:
        for n in range(start, start + count):
            claimant = f"person-{n % 7}"
            claim = make_claim(
                session,
                f"claim-{n:04d}",
                claimant=claimant,
                deadline=dt.date(2030, 1, 1) + dt.timedelta(days=n),
            )
            make_evaluation(session, claim, state="open")
        session.commit()


def statements_per_page(client: TestClient, engine: sa.Engine, limit: int) -> list[int]:
    """The SELECTs each page of the whole list costs, page after page, following next_cursor."""
    counts: list[int] = []
    seen: list[tuple[str, object]] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        url = f"/api/v1/claims?limit={limit}"
        while url:
            seen.clear()
            response = client.get(url, headers={"Accept-Encoding": "identity"})
            assert response.status_code == 200
            counts.append(len(seen))
            for statement, parameters in seen:
                # SQLite's compiler always writes `LIMIT ? OFFSET ?`: the offset must be 0
                if "OFFSET" in statement.upper():
                    assert isinstance(parameters, tuple) and parameters[-1] == 0, statement
            cursor = response.json()["next_cursor"]
            url = f"/api/v1/claims?limit={limit}&cursor={cursor}" if cursor else ""
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    return counts


def test_list_pages_cost_a_constant_number_of_statements(settings, engine, clock) -> None:
    seed(engine, 0, 30)
    app = create_app(settings, engine=engine, clock=clock)
    with TestClient(app) as client:
        small = statements_per_page(client, engine, limit=10)
        seed(engine, 30, 90)  # four times the claims
        large = statements_per_page(client, engine, limit=40)
    assert len(small) == 3 and len(large) == 3
    assert len(set(small + large)) == 1, (small, large)  # the same count on every page
    assert small[0] <= 3, small  # the page, its newest verdict (Last-Modified), at most one more
