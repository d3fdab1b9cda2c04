"""The OpenAPI document is complete (every /api/v1 operation described, every component schema
with an example that its model accepts), and /docs works offline: Swagger UI from vendored
assets, no request to another host."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel

from tracker import claims, criteria
from tracker.web import api_data, api_indicators, api_webhooks, schemas
from tracker.web.app import create_app
from tracker.web.openapi import EXAMPLES, SWAGGER_ASSETS

VENDOR = Path(schemas.__file__).parent / "static" / "vendor" / "swagger-ui"
# FastAPI's own request-validation schemas, if they ever reappear: not ours to give examples
FRAMEWORK_SCHEMAS = {"HTTPValidationError", "ValidationError"}


@pytest.fixture
def client(settings, engine) -> Iterator[TestClient]:
    with TestClient(create_app(settings, engine=engine)) as c:
        yield c


@pytest.fixture
def document(client) -> dict[str, Any]:
    r = client.get("/openapi.json")
    assert r.status_code == 200
    return r.json()  # type: ignore[no-any-return]


def test_every_api_operation_has_a_description(document):
    operations = [
        (method.upper(), path, op)
        for path, ops in document["paths"].items()
        if path.startswith("/api/v1/")
        for method, op in ops.items()
    ]
    assert len(operations) >= 20
    undescribed = [f"{m} {p}" for m, p, op in operations if not op.get("description", "").strip()]
    assert undescribed == []
    unsummarised = [f"{m} {p}" for m, p, op in operations if not op.get("summary", "").strip()]
    assert unsummarised == []


def test_every_component_schema_has_an_example(document):
    components = document["components"]["schemas"]
    assert len(components) >= 40
    missing = [
        name
        for name, schema in components.items()
        if name not in FRAMEWORK_SCHEMAS and not (schema.get("examples") or schema.get("example"))
    ]
    assert missing == []


def _models(module: Any) -> list[type[BaseModel]]:
    return [
        v
        for v in vars(module).values()
        if isinstance(v, type)
        and issubclass(v, BaseModel)
        and v.__module__ == module.__name__
        and isinstance(v.model_config.get("json_schema_extra"), dict)
    ]


@pytest.mark.parametrize(
    "module",
    [schemas, api_data, api_webhooks, api_indicators],
    ids=["schemas", "api_data", "api_webhooks", "api_indicators"],
)
def test_web_model_examples_are_accepted_by_their_models(module):
    models = _models(module)
    assert len(models) >= 4
    for model in models:
        extra = model.model_config["json_schema_extra"]
        assert isinstance(extra, dict)
        for example in extra["examples"]:
            model.model_validate(example)  # raises naming the bad field


def test_claim_file_and_criteria_examples_are_valid():
    by_name: dict[str, type[BaseModel]] = {
        "ClaimFile": claims.ClaimFile,
        "tracker__claims__Quote": claims.Quote,
        "Stated": claims.Stated,
        "DateWindow": claims.DateWindow,
        "Translation": claims.Translation,
        **{
            name: getattr(criteria, name)
            for name in EXAMPLES
            if isinstance(getattr(criteria, name, None), type)
        },
    }
    assert set(by_name) == set(EXAMPLES)
    for name, example in EXAMPLES.items():
        by_name[name].model_validate(example)


def test_docs_page_loads_only_local_assets(client):
    r = client.get("/docs")
    assert r.status_code == 200
    html = r.text
    assert "SwaggerUIBundle" in html and "'/openapi.json'" in html
    assert not re.search(r"https?://", html), "the docs page names another host"
    urls = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sorted(urls) == sorted(
        f"{SWAGGER_ASSETS}/{name}"
        for name in ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png")
    )
    for url in urls:
        asset = client.get(url)
        assert asset.status_code == 200, url
        local = VENDOR / url.rsplit("/", 1)[1]
        assert asset.content == local.read_bytes()
    assert client.get("/redoc").status_code == 404  # not vendored, so not offered


def test_vendored_swagger_ui_matches_its_version_note():
    note = (VENDOR / "VERSION").read_text()
    for name in ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"):
        digest = hashlib.sha256((VENDOR / name).read_bytes()).hexdigest()
        assert f"package/{name} sha256 {digest}" in note
    assert "Apache License" in (VENDOR / "LICENSE").read_text()
