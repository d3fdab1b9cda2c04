"""Property-based fuzzing of every operation in the app's OpenAPI document (issue 15, Must
show): schemathesis turns each operation's schema into Hypothesis strategies, valid and invalid
(negative mode: wrong types, out-of-range values, missing fields), with a valid token most of the
time and real slugs some of the time, and the app answers each request with no 5xx — on SQLite
and, with TRACKER_TEST_DATABASE_URL, on PostgreSQL.

Bounded and reproducible: `derandomize=True` (the seed is fixed by the test itself), no example
database, FUZZ_CASES examples in all. The dashboard pages, which the OpenAPI document leaves out,
get the same treatment for their query parameters."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from sqlalchemy.engine import Engine
from test_api_write import CLAIM_DOC, JUDGED_DOC, bearer, seeded, tokens  # noqa: F401
from test_http_support import fixture_bytes, make_fetcher

from tracker.config import Settings
from tracker.web.app import create_app

FUZZ_CASES = 400
PAGE_CASES = 120
SLUGS = ["agi-2026", "china-power-4x-us-2035", "elon-musk"]
WORLDBANK_SAMPLE = "worldbank_v2_CHN_SP.POP.TOTL_2015_2024.json"
KEYS = ["owid.electricity_generation.chn", "worldbank.population.chn"]


@pytest.fixture
def app_client(
    settings: Settings,
    seeded: Engine,  # noqa: F811
    tokens: dict[str, str],  # noqa: F811
) -> Iterator[TestClient]:
    app = create_app(settings, engine=seeded)
    # an indicator's dry run fetches: from the recorded World Bank payload, never the network
    app.state.source_http = make_fetcher(
        lambda r: httpx.Response(200, content=fixture_bytes(WORLDBANK_SAMPLE)), settings
    )[0]
    with TestClient(app, raise_server_exceptions=False) as client:
        for doc in (CLAIM_DOC, JUDGED_DOC):
            r = client.post("/api/v1/claims", json=doc, headers=bearer(tokens["both"]))
            assert r.status_code == 201, r.text
        yield client


def _send(client: TestClient, kwargs: dict[str, Any], token: str | None) -> Any:
    headers = {k: v for k, v in kwargs.get("headers", {}).items() if k.lower() != "connection"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    content = kwargs.get("data", kwargs.get("content"))
    if isinstance(content, str):
        content = content.encode("utf-8", "surrogatepass")
    request: dict[str, Any] = {
        "headers": headers,
        "params": kwargs.get("params") or None,
        "cookies": None,
    }
    if "json" in kwargs:
        request["json"] = kwargs["json"]
    elif content is not None:
        request["content"] = content
    return client.request(kwargs["method"], kwargs["url"], **request)


def test_no_api_operation_answers_5xx(
    app_client: TestClient,
    tokens: dict[str, str],  # noqa: F811
) -> None:
    schema = schemathesis.openapi.from_dict(app_client.app.openapi())  # type: ignore[attr-defined]
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 25  # every read and write operation of the API
    seen: dict[str, int] = {}
    token_choices = [tokens["both"], tokens["resolver"], None, "trk_00000000_" + "x" * 43]

    @settings(
        max_examples=FUZZ_CASES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data())
    def fuzz(data: st.DataObject) -> None:
        operation = data.draw(st.sampled_from(operations), label="operation")
        mode = data.draw(st.sampled_from([GenerationMode.POSITIVE, GenerationMode.NEGATIVE]))
        path_parameters: dict[str, Any] = {}
        names = {p.name for p in operation.path_parameters}
        if "slug" in names and data.draw(st.booleans(), label="real slug"):
            path_parameters["slug"] = data.draw(st.sampled_from(SLUGS))
        if "key" in names and data.draw(st.booleans(), label="real key"):
            path_parameters["key"] = data.draw(st.sampled_from(KEYS))
        strategy = operation.as_strategy(mode, path_parameters=path_parameters or None)
        case = data.draw(strategy, label="case")
        kwargs = case.as_transport_kwargs(base_url="http://testserver")
        token = data.draw(st.sampled_from(token_choices), label="token")
        response = _send(app_client, kwargs, token)
        name = f"{operation.method.upper()} {operation.path}"
        seen[name] = seen.get(name, 0) + 1
        assert response.status_code < 500, (name, kwargs, response.text[:500])

    fuzz()
    assert len(seen) >= len(operations) - 2, sorted(set(map(str, operations)) - set(seen))


PAGES = ["/", "/claims", "/claims/{slug}", "/claimants/{slug}", "/indicators"]
PARAMS = ["as_of", "cursor", "q", "tag", "state", "claimant", "sort", "page", "next"]
text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30
) | st.sampled_from(["9999-12-31", "0001-01-01", "", "2026-13-45", "-1", "1e400", "NaN"])


def test_no_dashboard_page_answers_5xx(app_client: TestClient) -> None:
    @settings(
        max_examples=PAGE_CASES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        page=st.sampled_from(PAGES),
        slug=st.sampled_from(SLUGS) | text,
        params=st.dictionaries(st.sampled_from(PARAMS), text, max_size=3),
    )
    def fuzz(page: str, slug: str, params: dict[str, str]) -> None:
        url = page.replace("{slug}", quote(slug, safe="") or "x")
        response = app_client.get(url, params=params)
        assert response.status_code < 500, (url, params, response.text[:500])

    fuzz()
