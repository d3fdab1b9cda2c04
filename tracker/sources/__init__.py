"""Indicator sources: one adapter module per provider, registered here by name.

Adding a provider:
1. write `tracker/sources/<name>.py` with a class having `name`, `needs_key`,
   `fetch(http, spec) -> SourceResult` (requests go through `http.get`, the shared
   `tracker.sources.http.HttpFetcher`; base URL from `http.settings.base_url(name)`, key from
   `http.settings.api_key(name)`) and a pure generator `parse(body, spec) -> Iterator[Point]`;
   state its series parameters in `series_params` (tracker.sources.params) so its indicators
   can be declared over the API and the dashboard form;
2. add `<name>_base_url` / `<name>_api_key` to `tracker.config.Settings` and `SOURCE_NAMES`;
3. add one line to `_build_registry` below;
4. record a payload under `tests/fixtures/sources/` (with a PROVENANCE.md entry) and test the
   adapter through a real `HttpFetcher` over `httpx.MockTransport`/respx.
"""

from __future__ import annotations

from tracker.sources.base import Source


def _build_registry() -> dict[str, Source]:
    # Imported here so that importing `tracker.sources` stays cheap and cycle-free.
    from tracker.sources.clinicaltrials import ClinicalTrialsSource
    from tracker.sources.ember import EmberSource
    from tracker.sources.epoch import EpochSource
    from tracker.sources.fred import FredSource
    from tracker.sources.manifold import ManifoldSource
    from tracker.sources.openfda import OpenFdaSource
    from tracker.sources.owid import OwidSource
    from tracker.sources.worldbank import WorldBankSource

    sources: list[Source] = [
        OwidSource(),
        WorldBankSource(),
        EmberSource(),
        FredSource(),
        OpenFdaSource(),
        ClinicalTrialsSource(),
        ManifoldSource(),
        EpochSource(),
    ]
    return {source.name: source for source in sources}


REGISTRY: dict[str, Source] = _build_registry()


def get_source(name: str) -> Source:
    """The adapter registered as `name`; unknown → KeyError listing the known names."""
    try:
        return REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(REGISTRY))
        raise KeyError(f"unknown source {name!r} (known: {known})") from None


__all__ = ["REGISTRY", "Source", "get_source"]
