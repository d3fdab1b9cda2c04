"""What identifies a series at each source: the parameters an indicator declares (World Bank
indicator + country, OWID chart + column + entity, a FRED series id, …), as each adapter states
them in its `series_params`, and their check before an indicator is declared."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class SourceParam:
    """One parameter of a source's series: `pattern` is the whole value's regular expression."""

    name: str
    label: str
    help: str
    pattern: str
    example: str
    required: bool = True


@dataclass(frozen=True, slots=True)
class ParamIssue:
    """A bad parameter: `field` is its dotted path in a declaration (`params.country`)."""

    field: str
    message: str


def declared_params(source: Any) -> tuple[SourceParam, ...] | None:
    """The parameters a source states for its series (None: it states none, so its series are
    declared in indicators.yaml only)."""
    params: tuple[SourceParam, ...] | None = getattr(source, "series_params", None)
    return params


def check_params(source: Any, params: Mapping[str, Any]) -> tuple[dict[str, str], list[ParamIssue]]:
    """The parameters cleaned (stripped strings, the source's names only), and every problem."""
    declared = declared_params(source)
    name = getattr(source, "name", "?")
    if declared is None:
        return {}, [
            ParamIssue(
                "source",
                f"series of source {name!r} cannot be declared here yet: list the indicator "
                "in claims/indicators.yaml",
            )
        ]
    known = {p.name for p in declared}
    issues = [
        ParamIssue(
            f"params.{extra}",
            f"unknown parameter for source {name!r}; expected one of: {', '.join(sorted(known))}",
        )
        for extra in params
        if extra not in known
    ]
    cleaned: dict[str, str] = {}
    for param in declared:
        raw = params.get(param.name)
        value = "" if raw is None else str(raw).strip()
        if not value:
            if param.required:
                issues.append(
                    ParamIssue(
                        f"params.{param.name}",
                        f"{param.label} is required (e.g. {param.example})",
                    )
                )
            continue
        if not isinstance(raw, str | int | float) or isinstance(raw, bool):
            issues.append(ParamIssue(f"params.{param.name}", f"{param.label} must be text"))
            continue
        if re.fullmatch(param.pattern, value) is None:
            issues.append(
                ParamIssue(
                    f"params.{param.name}",
                    f"{param.label} {value!r} is not valid: {param.help} (e.g. {param.example})",
                )
            )
            continue
        cleaned[param.name] = value
    return cleaned, issues
