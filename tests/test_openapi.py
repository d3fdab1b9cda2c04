"""The OpenAPI document is complete: every /api/v1 operation described, every component schema
with an example that its model accepts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel

from tracker import claims, criteria
from tracker.web import api_data, schemas
from tracker.web.app import create_app
from tracker.web.openapi import EXAMPLES

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


@pytest.mark.parametrize("module", [schemas, api_data], ids=["schemas", "api_data"])
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
        **{
            name: getattr(criteria, name)
            for name in EXAMPLES
            if isinstance(getattr(criteria, name, None), type)
        },
    }
    assert set(by_name) == set(EXAMPLES)
    for name, example in EXAMPLES.items():
        by_name[name].model_validate(example)
