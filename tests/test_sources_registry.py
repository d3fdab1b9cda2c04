"""The source registry: exact names, the protocol, and keys read only from settings."""

from __future__ import annotations

import inspect

import pytest

from tracker.config import SOURCE_NAMES
from tracker.sources import REGISTRY, get_source


def test_registry_has_exactly_the_eight_sources():
    assert sorted(REGISTRY) == sorted(
        ["owid", "worldbank", "ember", "fred", "openfda", "clinicaltrials", "manifold", "epoch"]
    )
    assert set(REGISTRY) == set(SOURCE_NAMES)


def test_each_adapter_follows_the_protocol():
    for name, source in REGISTRY.items():
        assert source.name == name
        assert isinstance(source.needs_key, bool)
        assert callable(source.fetch)
        assert inspect.isgeneratorfunction(type(source).parse), name
    assert {n for n, s in REGISTRY.items() if s.needs_key} == {"ember", "fred"}


def test_unknown_source_names_the_known_ones():
    with pytest.raises(KeyError, match="owid"):
        get_source("nope")
