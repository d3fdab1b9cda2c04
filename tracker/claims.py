"""Claim definitions: the claim file format, its validation with file/line/field errors, and sync.

`claims/<slug>.yaml` files (plus `claimants.yaml`, `sources.yaml`, `indicators.yaml`) are checked
by `check_claims_path` and written to the database by `sync_claims_dir` / `apply_claim`, which
keep an append-only ClaimRevision per change and versioned Criterion rows. Nothing here commits.
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import json
import re
from collections.abc import Container, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    TypeAdapter,
    ValidationError,
)
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from tracker import bounds
from tracker.clock import utcnow
from tracker.config import Settings
from tracker.criteria import (
    FIELD_ERROR,
    AggregateCriterion,
    Criterion,
    GrowthCriterion,
    JudgedCriterion,
    SignalCriterion,
    ThresholdCriterion,
    UnitError,
    criterion_indicators,
    criterion_unit,
    expression_unit,
)
from tracker.db import session_scope
from tracker.indicator_removal import Removal, unlisted_indicators
from tracker.indicators import (
    IndicatorCatalogue,
    IndicatorCatalogueFile,
    IndicatorEntry,
    entry_to_row_values,
    load_catalogue_from_db,
)
from tracker.models import Claim, Claimant, ClaimRevision, Indicator, SourceDocument
from tracker.models import Criterion as CriterionRow
from tracker.periods import PERIOD_PATTERN, period_end, period_start

__all__ = [
    "ApplyResult",
    "CheckResult",
    "ClaimFile",
    "ClaimIssue",
    "ClaimReferences",
    "ClaimValidationError",
    "DocumentCheck",
    "SyncReport",
    "apply_claim",
    "check_claim_document",
    "check_claims_path",
    "claim_to_document",
    "content_hash",
    "dump_claim_yaml",
    "load_catalogue_from_db",
    "load_claim_document",
    "normalised_document",
    "stored_references",
    "sync_claims_dir",
    "withdraw_claim",
]

RESERVED_FILES = ("claimants.yaml", "sources.yaml", "indicators.yaml")
SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$"
DATE_TEXT = re.compile(r"^\d{4}-\d{2}-\d{2}$")

# params each known source needs (agreed with the sources adapters); checked as warnings
REQUIRED_PARAMS: dict[str, tuple[tuple[str, ...], ...]] = {
    "owid": (("chart",), ("column",), ("entity_code",)),
    "worldbank": (("indicator",), ("country",)),
    "ember": (("dataset",), ("entity_code",), ("series",)),
    "fred": (("series_id",),),
    "openfda": (("measure",),),
    "clinicaltrials": (("measure",),),
    "manifold": (("market_id", "slug"),),
    "epoch": (("measure",),),
}


# --- issues ---


@dataclass(frozen=True)
class ClaimIssue:
    """One problem found in a claim document: where (file, line, field) and what was expected."""

    file: str
    line: int | None
    field: str
    message: str
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        kind = "warning" if self.severity == "warning" else "error"
        return f"{where}: {kind}: {self.field}: {self.message}"


class ClaimValidationError(ValueError):
    """Claim documents were rejected; `.errors` lists every problem (file, line, field)."""

    def __init__(self, errors: Sequence[ClaimIssue]) -> None:
        self.errors = list(errors)
        super().__init__("\n".join(str(e) for e in self.errors))


# --- the claim file format ---


def _date_input(value: Any) -> Any:
    # YAML reads 2030 as a number and lax pydantic would take it as a Unix timestamp
    if isinstance(value, int | float):  # bool is an int too
        raise ValueError(f"expected a date written YYYY-MM-DD, got the number {value!r}")
    if isinstance(value, str) and not DATE_TEXT.match(value.strip()):
        raise ValueError(f"expected a date written YYYY-MM-DD, got {value!r}")
    return value


DateField = Annotated[dt.date, BeforeValidator(_date_input), AfterValidator(bounds.check_date)]
Precision = Literal["day", "month", "year"]
Slug = Annotated[str, Field(pattern=SLUG_PATTERN, max_length=120)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Quote(_Strict):
    """The claim's words: exactly as said or written, and in English."""

    original: str | None = Field(
        default=None, description="The exact words in the original language."
    )
    language: str = Field(
        min_length=2, max_length=20, description="Language of `original` (BCP 47, e.g. ja)."
    )
    en: str = Field(min_length=1, description="English rendering.")
    note: str | None = Field(
        default=None, description="Required when `original` is missing: why it is."
    )


class Stated(_Strict):
    """When the claim was made, with the precision that date is known to."""

    date: DateField
    precision: Precision = Field(
        description="day | month | year. month: write the 1st; year: write January 1st."
    )
    note: str | None = Field(default=None, description="Where the date comes from.")


class DateWindow(_Strict):
    start: DateField | None = None
    end: DateField | None = None


class Translation(_Strict):
    """The claim's own words in another language, beside the English fields (a `ja:` block).

    Every field is optional: what is missing is shown in English, marked as such."""

    title: str | None = Field(default=None, min_length=1, max_length=500)
    deadline_interpretation: str | None = Field(
        default=None, min_length=1, description="`deadline_interpretation` in this language."
    )
    deadline_alternative: str | None = Field(
        default=None, min_length=1, description="`deadline_alternative` in this language."
    )
    criteria: dict[Annotated[str, Field(max_length=120)], Annotated[str, Field(min_length=1)]] = (
        Field(
            default_factory=dict,
            description="Criterion descriptions in this language, by criterion key.",
        )
    )


# the claim fields a translation block may give (beside `criteria`)
TRANSLATED_FIELDS = ("title", "deadline_interpretation", "deadline_alternative")


class ClaimFile(_Strict):
    """One claim file, `claims/<slug>.yaml` (see claims/README.md for every field)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"title": "tracker claim file"},
    )

    slug: Slug = Field(description="Unique id; equals the file name without .yaml.")
    title: str = Field(min_length=3, max_length=500)
    claimant: Slug = Field(description="Who made the claim (a slug in claimants.yaml).")
    reporter: Slug | None = Field(
        default=None, description="Who reported it, when not the claimant (claimants.yaml)."
    )
    source: Slug | None = Field(
        default=None, description="The document it was stated in (a slug in sources.yaml)."
    )
    quote: Quote
    stated: Stated
    window: DateWindow | None = Field(
        default=None, description="When the predicted thing is supposed to happen."
    )
    deadline: DateField | None = Field(
        default=None, description="Last day the claim can come true; none: open-ended."
    )
    review: Literal["yearly"] | None = Field(
        default=None, description="For open-ended claims (no deadline): review yearly."
    )
    deadline_interpretation: str | None = Field(
        default=None, description="How the deadline was read from the words."
    )
    deadline_alternative: str | None = Field(
        default=None, description="Another reasonable reading of the deadline, not chosen."
    )
    kind: Literal["hard", "judged"] = Field(
        description="hard: decided by data; judged: decided by a reviewer with a rubric."
    )
    lifecycle: Literal["draft", "active", "withdrawn"] = "active"
    tags: list[Annotated[str, Field(pattern=SLUG_PATTERN)]] = Field(default_factory=list)
    operationalised_by: str | None = Field(
        default=None,
        description="Who chose the check: `tracker` when it is ours, not the claimant's.",
    )
    variant_of: Slug | None = Field(
        default=None, description="Slug of the claim this is another reading of."
    )
    probability: float | None = Field(
        default=None, ge=0, le=1, description="Stated probability (for Brier scores)."
    )
    criteria: list[Criterion] = Field(min_length=1)
    catalogued: DateField | None = Field(
        default=None,
        description=(
            "The day this claim file was reviewed into the catalogue (e.g. its commit date). "
            "A sync that creates the claim for the first time dates its first version from it "
            "(never later than the sync), so replays of earlier dates know the claim; "
            "on or after `stated.date`. Claim files only, not the API."
        ),
    )
    revision_note: str | None = Field(
        default=None,
        description="Why this version differs; required when criteria of an active claim change.",
    )
    ja: Translation | None = Field(
        default=None,
        description=(
            "The title, deadline readings and criterion descriptions in Japanese (the quote's "
            "original words stay in `quote`); what is missing is shown in English, marked."
        ),
    )

    _source_label: str = PrivateAttr(default="<claim>")
    _lines: dict[tuple[str | int, ...], int] = PrivateAttr(default_factory=dict)
    _warnings: list[ClaimIssue] = PrivateAttr(default_factory=list)

    @property
    def source_label(self) -> str:
        return self._source_label

    @property
    def warnings(self) -> list[ClaimIssue]:
        """Resolvability warnings found when the document was loaded."""
        return list(self._warnings)

    def line_of(self, *path: str | int) -> int | None:
        return _line_for(self._lines, tuple(path))


class ClaimantEntry(_Strict):
    slug: Slug
    name: str = Field(min_length=1)
    kind: Literal["person", "organisation"] = "person"
    description: str | None = None
    url: str | None = None


class ClaimantsFile(_Strict):
    claimants: list[ClaimantEntry] = Field(default_factory=list)


class SourceEntry(_Strict):
    slug: Slug
    title: str = Field(min_length=1)
    url: str | None = None
    language: str | None = Field(default=None, max_length=20)
    published_on: DateField | None = None
    published_precision: Precision | None = None
    archive: str | None = Field(
        default=None, description="Path of the archived copy, relative to the claims directory."
    )
    archived_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    note: str | None = None


class SourcesFile(_Strict):
    sources: list[SourceEntry] = Field(default_factory=list)


# --- YAML with line numbers ---

YamlPath = tuple[str | int, ...]


# Anchors and aliases are allowed (a series written once and reused by two criteria), but the
# nodes they repeat are counted as the document is composed: a ~1 KB "billion laughs" document
# expands to ~10^9 nodes, and everything after parsing (the line walk, pydantic, the content
# hash) sees the expanded tree. The largest claim file has ~100 nodes and indicators.yaml ~400,
# so 10,000 repeated nodes is far beyond any real reuse and still costs milliseconds downstream.
MAX_ALIASED_NODES = 10_000


class _AliasRefused(Exception):
    """An alias the claim loader will not expand: recursive, or repeating too many nodes."""

    def __init__(self, message: str, mark: Any) -> None:
        super().__init__(message)
        self.message = message
        self.line: int | None = mark.line + 1 if mark is not None else None


class _ClaimLoader(yaml.SafeLoader):
    """Safe YAML, but dates stay strings (pydantic parses them and reports bad ones by field),
    and aliases are refused before they could expand past MAX_ALIASED_NODES or into a cycle.

    The count is taken on the composed node graph, before construction: composing shares an
    aliased node (cheap), while what comes after (merge keys flattened by the constructor, the
    line walk, validation) pays for every repetition.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._expanded_sizes: dict[yaml.Node, int] = {}  # by node identity
        self._open_anchors: set[str] = set()  # anchors of the collections being composed
        self._aliased_nodes = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        event: yaml.NodeEvent = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent):
            node = super().compose_node(parent, index)  # an undefined alias raises here
            if node is not None:
                self._count_alias(str(event.anchor), node, event.start_mark)
            return node
        anchor = event.anchor
        if anchor is None:
            return super().compose_node(parent, index)
        self._open_anchors.add(anchor)
        try:
            return super().compose_node(parent, index)
        finally:
            self._open_anchors.discard(anchor)

    def _count_alias(self, anchor: str, node: yaml.Node, mark: Any) -> None:
        if anchor in self._open_anchors:
            raise _AliasRefused(
                f"alias *{anchor} is inside the node anchored &{anchor}, which would contain "
                "itself: expected a tree (write the repeated part out)",
                mark,
            )
        size = self._expanded_size(node)
        self._aliased_nodes += size
        if self._aliased_nodes > MAX_ALIASED_NODES:
            raise _AliasRefused(
                f"alias *{anchor} repeats {size:,} YAML nodes, bringing the nodes repeated "
                f"through aliases to {self._aliased_nodes:,}: expected at most "
                f"{MAX_ALIASED_NODES:,} (write the repeated part out, or repeat it less)",
                mark,
            )

    def _expanded_size(self, node: yaml.Node) -> int:
        """Nodes in `node` with every alias in it written out (each node computed once)."""
        known = self._expanded_sizes.get(node)
        if known is not None:
            return known
        size = 1
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                size += self._expanded_size(key_node) + self._expanded_size(value_node)
        elif isinstance(node, yaml.SequenceNode):
            for item in node.value:
                size += self._expanded_size(item)
        self._expanded_sizes[node] = size
        return size


_ClaimLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass
class ParsedYaml:
    data: Any
    lines: dict[YamlPath, int]


def parse_yaml(text: str, *, source_label: str) -> ParsedYaml:
    """Parse YAML text keeping the line of every key; raise ClaimValidationError naming the line.

    Bounded in time and memory by the text's length: aliases may repeat at most
    MAX_ALIASED_NODES nodes in all, and none may be recursive.
    """
    loader = _ClaimLoader(text)
    lines: dict[YamlPath, int] = {}
    try:
        node = loader.get_single_node()
        if node is not None:
            # before construction, which rewrites mappings with merge keys (`<<: *base`)
            duplicates: list[ClaimIssue] = []
            _walk_node(node, (), lines, duplicates, source_label, set())
            if duplicates:
                raise ClaimValidationError(duplicates)
        data = loader.construct_document(node) if node is not None else None
    except _AliasRefused as exc:
        issue = ClaimIssue(source_label, exc.line, "(yaml)", exc.message)
        raise ClaimValidationError([issue]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        raise ClaimValidationError(
            [ClaimIssue(source_label, line, "(yaml)", f"invalid YAML: {problem}")]
        ) from exc
    except yaml.YAMLError as exc:
        raise ClaimValidationError(
            [ClaimIssue(source_label, None, "(yaml)", f"invalid YAML: {exc}")]
        ) from exc
    except RecursionError:
        message = "nested too deeply: expected a claim document a few levels deep"
        raise ClaimValidationError([ClaimIssue(source_label, None, "(yaml)", message)]) from None
    finally:
        loader.dispose()
    return ParsedYaml(data, lines)


def _walk_node(
    node: yaml.Node,
    path: YamlPath,
    lines: dict[YamlPath, int],
    issues: list[ClaimIssue],
    label: str,
    checked: set[int],
) -> None:
    # every path gets its line (aliases repeat at most MAX_ALIASED_NODES nodes, so this is
    # bounded), but a mapping reached again through an alias reports its duplicates once
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        report = id(node) not in checked
        checked.add(id(node))
        seen: set[str] = set()
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue
            key = str(key_node.value)
            key_path = (*path, key)
            if key in seen and report:
                issues.append(
                    ClaimIssue(
                        label,
                        key_node.start_mark.line + 1,
                        format_path(key_path),
                        "duplicate key: each field may appear once",
                    )
                )
            seen.add(key)
            lines[key_path] = key_node.start_mark.line + 1
            _walk_node(value_node, key_path, lines, issues, label, checked)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk_node(item, (*path, index), lines, issues, label, checked)


def format_path(path: Iterable[str | int]) -> str:
    """('criteria', 0, 'threshold') → 'criteria[0].threshold'."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(document)"


def _line_for(lines: Mapping[YamlPath, int], path: YamlPath) -> int | None:
    while True:
        if path in lines:
            return lines[path]
        if not path:
            return None
        path = path[:-1]


def read_yaml_file(path: Path, *, source_label: str | None = None) -> ParsedYaml:
    """Read a YAML file as strict UTF-8; errors name the file and line."""
    label = source_label or str(path)
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ClaimValidationError(
            [
                ClaimIssue(
                    label,
                    line,
                    "(encoding)",
                    f"not valid UTF-8: byte 0x{raw[exc.start]:02x} at offset {exc.start};"
                    " expected a UTF-8 text file",
                )
            ]
        ) from exc
    text = text.removeprefix("\ufeff")
    return parse_yaml(text, source_label=label)


# --- pydantic errors → issues ---

_SERIES_MEMBERS = {
    "IndicatorRef": "indicator",
    "Ratio": "ratio",
    "Difference": "difference",
    "Sum": "sum",
}
_THRESHOLD_MEMBERS = {"RelativeThreshold": "baseline", "float": None}
_SERIES_EXPECTED = (
    "expected a series expression: {indicator: KEY}, {ratio: [A, B]}, "
    "{difference: [A, B]} or {sum: [A, B, ...]}"
)
_THRESHOLD_EXPECTED = (
    "expected a number, or a relative threshold {baseline: {start, end, function}, factor}"
)


def _preferred_member(value: Any, member: str) -> str | None:
    """Which union member the written value is aiming at, if any."""
    if member in _SERIES_MEMBERS:
        if isinstance(value, dict):
            for name, key in _SERIES_MEMBERS.items():
                if key in value:
                    return name
        return None
    if isinstance(value, dict):
        return "RelativeThreshold"
    return "float"


def _resolve_loc(
    loc: Sequence[str | int], data: Any
) -> tuple[YamlPath, Any, bool, str | None, bool]:
    """Map a pydantic loc onto the document: (path, value, missing, collapsed_as, dropped)."""
    cur = data
    path: list[str | int] = []
    tag_skipped = False
    for index, element in enumerate(loc):
        last = index == len(loc) - 1
        if element in _SERIES_MEMBERS or element in _THRESHOLD_MEMBERS:
            assert isinstance(element, str)
            preferred = _preferred_member(cur, element)
            if preferred is None:
                return tuple(path), cur, False, "series", False
            if preferred != element:
                return tuple(path), cur, False, None, True
            continue
        if isinstance(cur, dict):
            tag = cur.get("type")
            if not last and tag == element and not tag_skipped and isinstance(loc[index + 1], str):
                tag_skipped = True  # the discriminator tag of a criterion, once per mapping
                continue
            if element in cur:
                path.append(element)
                cur = cur[element]
                tag_skipped = False
                continue
            if last:
                path.append(element)
                return tuple(path), None, True, None, False
            continue
        if isinstance(cur, list | tuple) and isinstance(element, int) and element < len(cur):
            path.append(element)
            cur = cur[element]
            tag_skipped = False
            continue
    return tuple(path), cur, False, None, False


def _friendly(
    err: Mapping[str, Any], value: Any, path: YamlPath, model: type[BaseModel], data: Any
) -> str:
    kind = err["type"]
    message = str(err["msg"])
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        meant = _meant_field(model, path, data)
        if meant is not None:
            return f"unknown field: did you mean `{meant}`?"
        allowed = _allowed_fields(model, path, data)
        hint = f"; expected one of: {', '.join(allowed)}" if allowed else ""
        return f"unknown field{hint}"
    if kind == "union_tag_invalid" or kind == "union_tag_not_found":
        return "expected `type:` one of threshold, growth, aggregate, judged, signal"
    if kind == "string_pattern_mismatch" and path and path[-1] in ("period", "start", "end"):
        return f'expected a period like "2030", "2030-06" or "2030-06-30", got {value!r}'
    message = message.removeprefix("Value error, ")
    if message.startswith("Input should be "):
        message = "expected " + message.removeprefix("Input should be ")
    if value is not None and not isinstance(value, dict | list) and "got" not in message:
        shown = repr(value)
        message += f", got {shown[:60]}"
    return message


_CRITERION_MODELS: dict[str, type[BaseModel]] = {
    "threshold": ThresholdCriterion,
    "growth": GrowthCriterion,
    "aggregate": AggregateCriterion,
    "judged": JudgedCriterion,
    "signal": SignalCriterion,
}


def _allowed_fields(model: type[BaseModel], path: YamlPath, data: Any) -> list[str]:
    """The fields the mapping holding an unknown key may have (for the error message)."""
    if len(path) == 1:
        return list(model.model_fields)
    if model is ClaimFile:
        nested: dict[str | int, type[BaseModel]] = {
            "quote": Quote,
            "stated": Stated,
            "window": DateWindow,
        }
        if len(path) == 2 and path[0] in nested:
            return list(nested[path[0]].model_fields)
        if len(path) == 3 and path[0] == "criteria" and isinstance(path[1], int):
            item = data.get("criteria", [None] * (path[1] + 1))[path[1]]
            kind = item.get("type") if isinstance(item, dict) else None
            if isinstance(kind, str) and kind in _CRITERION_MODELS:
                return list(_CRITERION_MODELS[kind].model_fields)
        return []
    items: dict[type[BaseModel], type[BaseModel]] = {
        ClaimantsFile: ClaimantEntry,
        SourcesFile: SourceEntry,
        IndicatorCatalogueFile: IndicatorEntry,
    }
    if len(path) == 3 and model in items:
        return list(items[model].model_fields)
    return []


def _value_at(data: Any, path: YamlPath) -> Any:
    for part in path:
        if isinstance(part, str) and isinstance(data, dict):
            data = data.get(part)
        elif isinstance(part, int) and isinstance(data, list) and part < len(data):
            data = data[part]
        else:
            return None
    return data


def _meant_field(model: type[BaseModel], path: YamlPath, data: Any) -> str | None:
    """The known field an unknown key at `path` is probably a misspelling of (not written)."""
    if not path or not isinstance(path[-1], str):
        return None
    mapping = _value_at(data, path[:-1])
    written = set(mapping) if isinstance(mapping, dict) else set()
    candidates = [f for f in _allowed_fields(model, path, data) if f not in written]
    matches = difflib.get_close_matches(path[-1], candidates, n=1, cutoff=0.7)
    return matches[0] if matches else None


def _misspelt_fields(exc: ValidationError, data: Any, model: type[BaseModel]) -> set[str]:
    """Dotted paths of the fields that unknown keys probably meant (`deadlin` → `deadline`).

    Their absence is a consequence of the typo, reported once as the unknown field: a
    "required field is missing" or a check that reads the field's default would mislead.
    """
    meant: set[str] = set()
    for err in exc.errors():
        if err["type"] != "extra_forbidden":
            continue
        path = _resolve_loc(err["loc"], data)[0]
        field_name = _meant_field(model, path, data)
        if field_name is not None:
            meant.add(format_path((*path[:-1], field_name)))
    return meant


def _pydantic_issues(
    exc: ValidationError,
    data: Any,
    lines: Mapping[YamlPath, int],
    label: str,
    model: type[BaseModel] = ClaimFile,
) -> list[ClaimIssue]:
    issues: list[ClaimIssue] = []
    seen: set[tuple[str, str]] = set()
    misspelt = _misspelt_fields(exc, data, model)
    for err in exc.errors():
        loc = err["loc"]
        if err["type"] == FIELD_ERROR:  # a model's check that names the field to blame
            loc = (*loc, str(err.get("ctx", {}).get("field", "")))
        path, value, _missing, collapsed, dropped = _resolve_loc(loc, data)
        if dropped:
            continue
        if collapsed is not None:
            is_threshold = bool(path) and path[-1] == "threshold"
            message = _THRESHOLD_EXPECTED if is_threshold else _SERIES_EXPECTED
            if value is not None and not isinstance(value, dict | list):
                message += f", got {value!r}"
        else:
            message = _friendly(err, value, path, model, data)
        key = (format_path(path), message)
        if key in seen or key[0] in misspelt:
            continue
        seen.add(key)
        issues.append(ClaimIssue(label, _line_for(lines, path), format_path(path), message))
    return issues


def _coerce_periods(data: Any) -> Any:
    """YAML reads `period: 2030` as a number; in criteria such numbers mean the period "2030"."""
    if isinstance(data, dict):
        return {
            key: (
                str(value)
                if key in ("period", "start", "end", "unit")
                and isinstance(value, int)
                and not isinstance(value, bool)
                else _coerce_periods(value)
            )
            for key, value in data.items()
        }
    if isinstance(data, list):
        return [_coerce_periods(item) for item in data]
    return data


# --- loading and linting one claim ---


def load_claim_document(
    data: Any,
    *,
    source_label: str,
    catalogue: IndicatorCatalogue,
    lines: Mapping[YamlPath, int] | None = None,
    references: ClaimReferences | None = None,
) -> ClaimFile:
    """Validate one claim document (a parsed YAML or JSON object) against the catalogue.

    Every independent problem is reported at once: when the schema fails, the meaning checks
    whose inputs parsed and the references readable from the document (claimant, reporter,
    source, variant_of when `references` is given; every `indicator:` key) still run.
    Raises ClaimValidationError listing every error; warnings end up on `claim.warnings`.
    """
    checked = check_claim_document(
        data, source_label=source_label, catalogue=catalogue, lines=lines, references=references
    )
    errors = [i for i in checked.issues if i.severity == "error"]
    if errors or checked.claim is None:
        raise ClaimValidationError(errors)
    return checked.claim


@dataclass
class DocumentCheck:
    """One claim document checked: the claim when its schema held, every issue, what parsed.

    `parts` holds each top-level field that parsed on its own (defaults filled in), so callers
    can run their own checks (e.g. slug versus file name) even when other fields are broken.
    """

    claim: ClaimFile | None
    issues: list[ClaimIssue]
    parts: dict[str, Any]

    @property
    def errors(self) -> list[ClaimIssue]:
        return [i for i in self.issues if i.severity == "error"]


def check_claim_document(
    data: Any,
    *,
    source_label: str,
    catalogue: IndicatorCatalogue,
    lines: Mapping[YamlPath, int] | None = None,
    references: ClaimReferences | None = None,
) -> DocumentCheck:
    """Check one claim document in a single pass (schema, meaning, references); never raises.

    Each message appears once. Warnings are kept only when the schema held (on a broken
    document they could be knock-on effects of the errors).
    """
    lines = dict(lines or {})
    if not isinstance(data, dict):
        got = "an empty document" if data is None else type(data).__name__
        issue = ClaimIssue(
            source_label,
            _line_for(lines, ()),
            "(document)",
            f"expected a mapping of claim fields, got {got}",
        )
        return DocumentCheck(None, [issue], {})
    out_of_bounds = [
        ClaimIssue(
            source_label, _line_for(lines, found.path), format_path(found.path), found.message
        )
        for found in bounds.walk(data)
    ]
    if out_of_bounds:  # NUL, lone surrogates, NaN/inf: nothing else is read from such a document
        return DocumentCheck(None, out_of_bounds, {})
    if isinstance(data.get("criteria"), list):
        data = {**data, "criteria": _coerce_periods(data["criteria"])}
    claim: ClaimFile | None = None
    try:
        claim = ClaimFile.model_validate(data)
    except ValidationError as exc:
        schema = _pydantic_issues(exc, data, lines, source_label)
        misspelt = _misspelt_fields(exc, data, ClaimFile)
        parts, criteria = _parsed_parts(data, exc, misspelt)
        raw_criteria = data.get("criteria")
        failed_items = [
            (index, item)
            for index, item in enumerate(raw_criteria if isinstance(raw_criteria, list) else [])
            if index not in {i for i, _ in criteria}
        ]
        meaning = _lint_parts(
            parts,
            criteria,
            catalogue,
            source_label,
            lines,
            failed_items=failed_items,
            schema_fields={i.field for i in schema},
        )
        issues = [
            *schema,
            *(i for i in meaning if i.severity == "error" and i.field not in misspelt),
        ]
    else:
        claim._source_label = source_label
        claim._lines = lines
        parts = _whole_parts(claim)
        issues = lint_claim(claim, catalogue)
    if references is not None:
        issues += _reference_issues(parts, references, source_label, lines)
    issues = list(dict.fromkeys(issues))  # a message said twice is said once
    if claim is not None:
        claim._warnings = [i for i in issues if i.severity == "warning"]
        if any(i.severity == "error" for i in issues):
            claim = None
    return DocumentCheck(claim, issues, parts)


@cache
def _field_adapter(model: type[BaseModel], name: str) -> TypeAdapter[Any]:
    info = model.model_fields[name]
    annotation: Any = info.annotation
    if info.metadata:
        annotation = Annotated[(annotation, *info.metadata)]
    return TypeAdapter(annotation)


# fields the meaning checks read on their own when the mapping holding them is broken
_NESTED_PARTS: dict[str, tuple[type[BaseModel], tuple[str, ...]]] = {
    "stated": (Stated, ("date", "precision")),
    "window": (DateWindow, ("start", "end")),
}


def _whole_parts(claim: ClaimFile) -> dict[str, Any]:
    """Every field of a claim whose schema held, as `_parsed_parts` names them."""
    parts = {name: getattr(claim, name) for name in ClaimFile.model_fields}
    for name, (_model, subfields) in _NESTED_PARTS.items():
        value = parts[name]
        if value is not None:
            parts.update({f"{name}.{sub}": getattr(value, sub) for sub in subfields})
    return parts


@cache
def _criterion_adapter() -> TypeAdapter[Criterion]:
    return TypeAdapter(Criterion)


def _parsed_parts(
    data: Mapping[str, Any], exc: ValidationError, misspelt: AbstractSet[str] = frozenset()
) -> tuple[dict[str, Any], list[tuple[int, Criterion]]]:
    """The top-level fields and the criteria (with their index) that are valid on their own.

    A field in `misspelt` (written under a misspelt key) is left out, not given its default.
    """
    failed: set[str] = set()
    failed_items: set[int] = set()
    for err in exc.errors():
        loc = err["loc"]
        if len(loc) > 1 and loc[0] == "criteria" and isinstance(loc[1], int):
            failed_items.add(loc[1])
        elif loc:
            failed.add(str(loc[0]))
            if len(loc) > 1:
                failed.add(f"{loc[0]}.{loc[1]}")
    parts: dict[str, Any] = {}
    for name, info in ClaimFile.model_fields.items():
        if name in failed or name == "criteria":
            continue
        if name not in data:
            if not info.is_required() and name not in misspelt:
                parts[name] = info.get_default(call_default_factory=True)
            continue
        try:
            parts[name] = _field_adapter(ClaimFile, name).validate_python(data[name])
        except ValidationError:
            continue
    for name, (model, subfields) in _NESTED_PARTS.items():
        raw_mapping = data.get(name)
        if name in parts:
            value = parts[name]
            if value is not None:
                parts.update({f"{name}.{sub}": getattr(value, sub) for sub in subfields})
            continue
        if not isinstance(raw_mapping, dict):
            continue
        for sub in subfields:  # e.g. `stated.precision` is wrong but `stated.date` is fine
            if f"{name}.{sub}" in failed or raw_mapping.get(sub) is None:
                continue
            try:
                value = _field_adapter(model, sub).validate_python(raw_mapping[sub])
            except ValidationError:
                continue
            parts[f"{name}.{sub}"] = value
    criteria: list[tuple[int, Criterion]] = []
    raw = data.get("criteria")
    if isinstance(raw, list) and "criteria" not in failed:
        for index, item in enumerate(raw):
            if index in failed_items:
                continue
            try:
                criteria.append((index, _criterion_adapter().validate_python(item)))
            except ValidationError:
                failed_items.add(index)
        if not failed_items:
            parts["criteria"] = [c for _, c in criteria]
    return parts, criteria


# --- references: claimant, reporter, source, variant_of ---


@dataclass(frozen=True)
class ClaimReferences:
    """What a claim's claimant/reporter, source and variant_of may name (None: not checked).

    `listed_in` says where the names come from, for the message: "files" (claimants.yaml,
    sources.yaml, the other claim files; in `listings` when that is not beside the claim file),
    "database" (stored rows, of `database` when named), or both.
    """

    claimants: Container[str] | None = None
    sources: Container[str] | None = None
    claims: Container[str] | None = None
    listed_in: Literal["files", "database", "files and database"] = "files"
    listings: str | None = None
    database: str | None = None


class _StoredSlugs:
    """`slug in stored` asks the database (one indexed lookup, no full listing)."""

    def __init__(self, session: Session, model: Any) -> None:
        self._session = session
        self._model = model

    def __contains__(self, slug: object) -> bool:
        return isinstance(slug, str) and _by_slug(self._session, self._model, slug) is not None


class _EitherOf:
    """`name in either` when it is in one of the containers (asked in order)."""

    def __init__(self, *containers: Container[str]) -> None:
        self._containers = containers

    def __contains__(self, name: object) -> bool:
        return any(name in container for container in self._containers)


def stored_references(session: Session) -> ClaimReferences:
    """References checked against stored claimants, source documents and claims."""
    return ClaimReferences(
        claimants=_StoredSlugs(session, Claimant),
        sources=_StoredSlugs(session, SourceDocument),
        claims=_StoredSlugs(session, Claim),
        listed_in="database",
    )


_IN_THE_DATABASE = ClaimReferences(listed_in="database")


def _unknown_reference(kind: str, slug: str, references: ClaimReferences) -> str:
    if references.listed_in == "database" and references.database is None:
        what, expected = {
            "claimant": ("claimant", "one that is stored"),
            "source": ("source document", "one that is stored"),
            "claim": ("claim", "a stored claim's slug"),
        }[kind]
        return f"unknown {what} {slug!r}: expected {expected}"
    places = []
    if references.listed_in != "database":
        prefix = f"{references.listings}/" if references.listings else ""
        places.append(
            {
                "claimant": f"a slug of {prefix}claimants.yaml",
                "source": f"a slug of {prefix}sources.yaml",
                "claim": "the slug of another claim file"
                + (f" in {references.listings}" if references.listings else ""),
            }[kind]
        )
    if references.listed_in != "files":
        stored = f"stored in {references.database or 'the database'}"
        places.append(
            {
                "claimant": f"a claimant {stored}",
                "source": f"a source document {stored}",
                "claim": f"a claim {stored}",
            }[kind]
        )
    return f"unknown {kind} {slug!r}: expected {' or '.join(places)}"


def _reference_issues(
    parts: Mapping[str, Any],
    references: ClaimReferences,
    label: str,
    lines: Mapping[YamlPath, int],
) -> list[ClaimIssue]:
    """Unknown claimant/reporter/source/variant_of, for those fields that parsed."""
    issues: list[ClaimIssue] = []
    for fld, kind, known in (
        ("claimant", "claimant", references.claimants),
        ("reporter", "claimant", references.claimants),
        ("source", "source", references.sources),
        ("variant_of", "claim", references.claims),
    ):
        slug = parts.get(fld)
        if known is None or not isinstance(slug, str) or slug in known:
            continue
        if fld == "variant_of" and slug == parts.get("slug"):
            continue  # "a claim cannot be a variant of itself" says it already
        message = _unknown_reference(kind, slug, references)
        issues.append(ClaimIssue(label, _line_for(lines, (fld,)), fld, message))
    return issues


def _period_bounds(period: str) -> tuple[dt.date, dt.date]:
    return period_start(period), period_end(period)


def _periods_in(spec: Any, path: YamlPath) -> Iterable[tuple[YamlPath, str]]:
    if isinstance(spec, dict):
        for key, value in spec.items():
            if key in ("period", "start", "end") and isinstance(value, str):
                yield (*path, key), value
            else:
                yield from _periods_in(value, (*path, key))
    elif isinstance(spec, list):
        for index, item in enumerate(spec):
            yield from _periods_in(item, (*path, index))


def _indicator_refs(spec: Any, path: YamlPath) -> Iterable[tuple[YamlPath, str]]:
    if isinstance(spec, dict):
        for key, value in spec.items():
            if key == "indicator" and isinstance(value, str):
                yield (*path, key), value
            else:
                yield from _indicator_refs(value, (*path, key))
    elif isinstance(spec, list):
        for index, item in enumerate(spec):
            yield from _indicator_refs(item, (*path, index))


def _last_period_needed(criterion: Criterion) -> tuple[str, str] | None:
    """(field, period) of the latest period a resolving measured criterion needs data for."""
    if isinstance(criterion, ThresholdCriterion):
        if criterion.mode == "at_period" and criterion.period:
            return "period", criterion.period
        if criterion.window is not None:
            return "window.end", criterion.window.end
    if isinstance(criterion, AggregateCriterion):
        return "window.end", criterion.window.end
    if isinstance(criterion, GrowthCriterion) and criterion.window is not None:
        return "window.end", criterion.window.end
    return None


def lint_claim(claim: ClaimFile, catalogue: IndicatorCatalogue) -> list[ClaimIssue]:
    """Cross-field errors and resolvability warnings for one parsed claim."""
    parts = _whole_parts(claim)
    criteria = list(enumerate(claim.criteria))
    return _lint_parts(parts, criteria, catalogue, claim.source_label, claim._lines)


_PERIOD_SHAPE = re.compile(PERIOD_PATTERN)


def _lint_parts(
    parts: Mapping[str, Any],
    criteria: Sequence[tuple[int, Criterion]],
    catalogue: IndicatorCatalogue,
    label: str,
    lines: Mapping[YamlPath, int],
    *,
    failed_items: Sequence[tuple[int, Any]] = (),
    schema_fields: AbstractSet[str] = frozenset(),
) -> list[ClaimIssue]:
    """The meaning checks of `lint_claim` on whatever parsed (a check runs when its inputs did).

    `parts` holds the top-level fields that parsed, `criteria` the criteria that parsed (with
    their index); `failed_items` are the raw criteria that did not: their `indicator:` keys and
    well-formed periods are still checked, except where `schema_fields` already has an error.
    """
    issues: list[ClaimIssue] = []

    def add(path: YamlPath, message: str, severity: Literal["error", "warning"] = "error") -> None:
        issues.append(
            ClaimIssue(label, _line_for(lines, path), format_path(path), message, severity)
        )

    quote: Quote | None = parts.get("quote")
    has_deadline, has_review = "deadline" in parts, "review" in parts
    deadline: dt.date | None = parts.get("deadline")
    review: str | None = parts.get("review")
    stated_date: dt.date | None = parts.get("stated.date")
    window_start: dt.date | None = parts.get("window.start")
    window_end: dt.date | None = parts.get("window.end")
    kind: str | None = parts.get("kind")

    catalogued: dt.date | None = parts.get("catalogued")
    # a day after the sync's is not refused but capped at the sync (see _first_dated): refusing
    # it would make the shipped files invalid under any clock set before their catalogue day
    if catalogued is not None and stated_date is not None and catalogued < stated_date:
        add(
            ("catalogued",),
            f"{catalogued.isoformat()} is before the stated date {stated_date.isoformat()}: "
            "expected a day on or after it (a claim is catalogued after it was made)",
        )
    if quote is not None and quote.original is None and not quote.note:
        add(("quote",), "`original` is missing: give the exact words, or a `note` saying why not")
    precision: str | None = parts.get("stated.precision")
    if stated_date is not None:
        if precision == "month" and stated_date.day != 1:
            add(
                ("stated", "date"),
                f"precision month: expected the first day of the month "
                f"({stated_date.replace(day=1).isoformat()}), got {stated_date.isoformat()}",
            )
        if precision == "year" and (stated_date.month, stated_date.day) != (1, 1):
            add(
                ("stated", "date"),
                f"precision year: expected January 1st ({stated_date.year}-01-01), "
                f"got {stated_date.isoformat()}",
            )
    if deadline is not None and stated_date is not None and deadline < stated_date:
        add(
            ("deadline",),
            f"deadline {deadline.isoformat()} is before the stated date "
            f"{stated_date.isoformat()}: expected a deadline on or after it",
        )
    if has_deadline and has_review and deadline is None and review != "yearly":
        add(("deadline",), "no deadline: an open-ended claim needs `review: yearly`")
    if deadline is not None and has_review and review is not None:
        add(("review",), "`review` is for open-ended claims; this one has a deadline")
    if window_start and window_end and window_end < window_start:
        add(("window", "end"), "window end is before its start")
    if window_end and deadline and window_end > deadline:
        add(("window", "end"), "window ends after the deadline", "warning")
    vague = deadline is None or not parts.get("deadline_interpretation")
    if has_deadline and "deadline_interpretation" in parts and vague:
        what = (
            "no deadline (open-ended; reviewed yearly)"
            if deadline is None
            else "no `deadline_interpretation`: say how the deadline was read from the words"
        )
        where: YamlPath = ("review",) if deadline is None else ("deadline",)
        add(where, f"vague deadline: {what}", "warning")
    if parts.get("variant_of") is not None and parts.get("variant_of") == parts.get("slug"):
        add(("variant_of",), "a claim cannot be a variant of itself")
    translation: Translation | None = parts.get("ja")
    if translation is not None and not failed_items:
        given = [c.key for _, c in criteria]
        for translated_key in translation.criteria:
            if translated_key not in given:
                add(
                    ("ja", "criteria", translated_key),
                    f"unknown criterion key {translated_key!r}: expected one of {', '.join(given)}",
                )
        for name in TRANSLATED_FIELDS[1:]:
            if getattr(translation, name) is not None and not parts.get(name):
                add(("ja", name), f"a translation of `{name}`, which the claim does not give")

    keys: set[str] = set()
    criterion_keys: list[tuple[int, str]] = [(index, c.key) for index, c in criteria]
    for index, item in failed_items:
        key = item.get("key") if isinstance(item, dict) else None
        if isinstance(key, str) and format_path(("criteria", index, "key")) not in schema_fields:
            criterion_keys.append((index, key))
    for index, key in sorted(criterion_keys):
        if key in keys:
            add(("criteria", index, "key"), f"duplicate criterion key {key!r}")
        keys.add(key)
    for index, item in failed_items:
        # a criterion the schema rejected may still name indicators that do not exist
        base: YamlPath = ("criteria", index)
        for path, key in _indicator_refs(item, base):
            if format_path(path) not in schema_fields and key not in catalogue:
                add(path, f"unknown indicator {key!r}: expected a key of {catalogue.listed_in}")
        for path, period in _periods_in(item, base):
            if format_path(path) in schema_fields or not _PERIOD_SHAPE.match(period):
                continue
            try:
                _period_bounds(period)
            except ValueError as exc:
                add(path, f'not a real period ({exc}): expected e.g. "2030" or "2030-06"')

    units = catalogue.units()
    resolving_measured = 0
    has_judged = False
    for index, criterion in criteria:
        base = ("criteria", index)
        spec = criterion.model_dump(mode="json", exclude_none=True)
        for path, period in _periods_in(spec, base):
            try:
                _period_bounds(period)
            except ValueError as exc:
                add(path, f'not a real period ({exc}): expected e.g. "2030" or "2030-06"')
        unknown = False
        for path, key in _indicator_refs(spec, base):
            if key not in catalogue:
                unknown = True
                add(path, f"unknown indicator {key!r}: expected a key of {catalogue.listed_in}")
        if isinstance(criterion, JudgedCriterion):
            has_judged = has_judged or criterion.role == "resolves"
            continue
        if isinstance(criterion, SignalCriterion):
            continue
        if criterion.role == "resolves":
            # counted even when its indicator is unknown: that error says what is wrong, and
            # "no resolving measured criterion" would only repeat it as a knock-on warning
            resolving_measured += 1
        if unknown:
            continue
        try:
            expression_unit(criterion.series, units)
            criterion_unit(criterion, units)
        except UnitError as exc:
            try:
                expression_unit(criterion.series, units)
                field_path: YamlPath = (*base, "unit") if criterion.unit else (*base, "threshold")
            except UnitError:
                field_path = (*base, "series")
            add(field_path, f"unit mismatch: {exc}")
        if criterion.role != "resolves":
            continue
        entries = [catalogue.get(k) for k in criterion_indicators(criterion)]
        known = [e for e in entries if e is not None]
        if kind == "hard":
            for entry in known:
                if not entry.has_known_source:
                    add(
                        (*base, "series"),
                        f"indicator {entry.key!r} has no known source "
                        f"({entry.source or 'none'}): this criterion cannot resolve by itself",
                        "warning",
                    )
        needed = _last_period_needed(criterion)
        if needed is not None and deadline is not None and known:
            field_name, period = needed
            try:
                last_day = _period_bounds(period)[1]
            except ValueError:
                continue
            lag = max(e.publication_lag_days for e in known)
            if isinstance(criterion, ThresholdCriterion) and criterion.tolerance_days:
                lag += criterion.tolerance_days  # a reading dated up to this late may decide it
            expected = last_day + dt.timedelta(days=lag)
            if expected > deadline:
                add(
                    (*base, *field_name.split(".")),
                    f"data for {period} is expected around {expected.isoformat()} "
                    f"({lag} days after the period ends), after the deadline "
                    f"{deadline.isoformat()}: the claim will await data at its deadline",
                    "warning",
                )
    if "criteria" not in parts:
        return issues  # some criteria did not parse: what the whole list holds is unknown
    if kind == "judged" and not has_judged:
        add(("criteria",), "a judged claim needs a resolving `type: judged` criterion (a rubric)")
    if kind == "hard" and resolving_measured == 0:
        add(
            ("criteria",),
            "hard claim with no resolving measured criterion: it cannot resolve from data",
            "warning",
        )
    return issues


# --- checking a claims directory ---


@dataclass
class CheckResult:
    """Everything a claims directory holds, parsed, with every issue found."""

    claims: list[ClaimFile] = field(default_factory=list)
    claimants: list[ClaimantEntry] = field(default_factory=list)
    sources: list[SourceEntry] = field(default_factory=list)
    catalogue: IndicatorCatalogue = field(default_factory=IndicatorCatalogue)
    issues: list[ClaimIssue] = field(default_factory=list)
    files_checked: int = 0

    @property
    def errors(self) -> list[ClaimIssue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[ClaimIssue]:
        return [i for i in self.issues if i.severity == "warning"]


def _label(path: Path) -> str:
    return path.as_posix()


def _load_listing(
    path: Path, model: type[BaseModel], result: CheckResult
) -> tuple[BaseModel | None, dict[YamlPath, int]]:
    if not path.exists():
        return None, {}
    result.files_checked += 1
    label = _label(path)
    try:
        parsed = read_yaml_file(path, source_label=label)
    except ClaimValidationError as exc:
        result.issues.extend(exc.errors)
        return None, {}
    data = parsed.data if parsed.data is not None else {}
    try:
        return model.model_validate(data), parsed.lines
    except ValidationError as exc:
        result.issues.extend(_pydantic_issues(exc, data, parsed.lines, label, model))
        return None, parsed.lines


def _duplicates(
    items: Sequence[Any], attr: str, listing: str, label: str, lines: Mapping[YamlPath, int]
) -> list[ClaimIssue]:
    seen: set[str] = set()
    out: list[ClaimIssue] = []
    for index, item in enumerate(items):
        value = getattr(item, attr)
        if value in seen:
            path: YamlPath = (listing, index, attr)
            out.append(
                ClaimIssue(label, _line_for(lines, path), format_path(path), f"duplicate {value!r}")
            )
        seen.add(value)
    return out


def has_listings(directory: Path) -> bool:
    """Whether `directory` holds a claimants, sources or indicators listing."""
    return any((directory / name).exists() for name in RESERVED_FILES)


def check_claims_path(
    path: Path,
    *,
    listings_dir: Path | None = None,
    session: Session | None = None,
    database: str | None = None,
) -> CheckResult:
    """Validate a claims directory (or one claim file beside its listings) without writing.

    `listings_dir`: check a claim file against the listings (and claim files) of that directory
    instead of those beside it. `session`: names stored in that database (`database` names it in
    messages) are known too, as they are to a save, which may refer to them.
    """
    result = CheckResult()
    if not path.exists():
        result.issues.append(ClaimIssue(_label(path), None, "(path)", "no such file or directory"))
        return result
    if path.is_dir():
        directory = path
        claim_paths = sorted(
            p
            for p in [*directory.glob("*.yaml"), *directory.glob("*.yml")]
            if p.name not in RESERVED_FILES
        )
    else:
        directory = listings_dir or path.parent
        claim_paths = [path]
    elsewhere = directory.resolve() != path.resolve().parent and not path.is_dir()

    catalogue_file, catalogue_lines = _load_listing(
        directory / "indicators.yaml", IndicatorCatalogueFile, result
    )
    if isinstance(catalogue_file, IndicatorCatalogueFile):
        label = _label(directory / "indicators.yaml")
        result.issues += _duplicates(
            catalogue_file.indicators, "key", "indicators", label, catalogue_lines
        )
        result.catalogue = IndicatorCatalogue({e.key: e for e in catalogue_file.indicators})
        for index, entry in enumerate(catalogue_file.indicators):
            result.issues += _lint_indicator(entry, index, label, catalogue_lines)
    claimants_file, claimant_lines = _load_listing(
        directory / "claimants.yaml", ClaimantsFile, result
    )
    if isinstance(claimants_file, ClaimantsFile):
        result.claimants = claimants_file.claimants
        result.issues += _duplicates(
            result.claimants,
            "slug",
            "claimants",
            _label(directory / "claimants.yaml"),
            claimant_lines,
        )
    sources_file, source_lines = _load_listing(directory / "sources.yaml", SourcesFile, result)
    if isinstance(sources_file, SourcesFile):
        result.sources = sources_file.sources
        label = _label(directory / "sources.yaml")
        result.issues += _duplicates(result.sources, "slug", "sources", label, source_lines)
        for index, source in enumerate(result.sources):
            result.issues += _lint_source(source, index, directory, label, source_lines)

    catalogue_broken = catalogue_file is None and (directory / "indicators.yaml").exists()
    # a listing that exists but is broken is reported once, not as every reference to it
    claimants_broken = claimants_file is None and (directory / "claimants.yaml").exists()
    sources_broken = sources_file is None and (directory / "sources.yaml").exists()
    sibling_stems = {
        p.stem
        for p in [*directory.glob("*.yaml"), *directory.glob("*.yml")]
        if p.name not in RESERVED_FILES
    }
    references = ClaimReferences(
        claimants=None if claimants_broken else {c.slug for c in result.claimants},
        sources=None if sources_broken else {s.slug for s in result.sources},
        claims=sibling_stems,
        listed_in="files",
        listings=_label(directory) if elsewhere else None,
    )
    listed = directory / "indicators.yaml" if elsewhere else Path("indicators.yaml")
    catalogue = IndicatorCatalogue(result.catalogue.entries, listed_in=_label(listed))
    if session is not None:
        stored = stored_references(session)
        references = replace(
            references,
            claimants=_either(references.claimants, stored.claimants),
            sources=_either(references.sources, stored.sources),
            claims=_either(references.claims, stored.claims),
            listed_in="files and database",
            database=database,
        )
        stored_catalogue = load_catalogue_from_db(session)
        catalogue = IndicatorCatalogue(
            {**stored_catalogue.entries, **catalogue.entries},  # a sync writes the listing's
            listed_in=f"{catalogue.listed_in} or of the indicators stored in "
            f"{database or 'the database'}",
        )
    first_seen: dict[str, str] = {}
    for claim_path in claim_paths:
        result.files_checked += 1
        label = _label(claim_path)
        try:
            parsed = read_yaml_file(claim_path, source_label=label)
        except ClaimValidationError as exc:
            result.issues.extend(exc.errors)
            continue
        checked = check_claim_document(
            parsed.data,
            source_label=label,
            catalogue=catalogue,
            lines=parsed.lines,
            references=references,
        )
        issues = [
            i
            for i in checked.issues
            # with a broken catalogue every reference looks unknown: report the cause once
            if not catalogue_broken or not i.message.startswith("unknown indicator")
        ]
        slug = checked.parts.get("slug")
        if isinstance(slug, str):
            where = _line_for(parsed.lines, ("slug",))
            if slug != claim_path.stem:
                message = (
                    f"slug {slug!r} differs from the file name: expected "
                    f"{claim_path.stem!r} (or rename the file to {slug}.yaml)"
                )
                issues.append(ClaimIssue(label, where, "slug", message))
            if slug in first_seen:
                message = f"duplicate slug {slug!r}: also in {first_seen[slug]}"
                issues.append(ClaimIssue(label, where, "slug", message))
            else:
                first_seen[slug] = label
        result.issues.extend(issues)
        if checked.claim is not None and not any(i.severity == "error" for i in issues):
            result.claims.append(checked.claim)
    result.issues.sort(key=lambda issue: (issue.file, issue.line or 0))
    return result


def _either(listed: Container[str] | None, stored: Container[str] | None) -> Container[str] | None:
    # a broken listing (None) is reported once, not as every reference to it
    if listed is None or stored is None:
        return None
    return _EitherOf(listed, stored)


def _lint_indicator(
    entry: IndicatorEntry, index: int, label: str, lines: Mapping[YamlPath, int]
) -> list[ClaimIssue]:
    out: list[ClaimIssue] = []
    if entry.source is None:
        return out
    required = REQUIRED_PARAMS.get(entry.source)
    path: YamlPath = ("indicators", index, "source")
    if required is None:
        out.append(
            ClaimIssue(
                label,
                _line_for(lines, path),
                format_path(path),
                f"unknown source {entry.source!r}: expected one of {', '.join(REQUIRED_PARAMS)}",
                "warning",
            )
        )
        return out
    for alternatives in required:
        if not any(name in entry.params for name in alternatives):
            ppath: YamlPath = ("indicators", index, "params")
            out.append(
                ClaimIssue(
                    label,
                    _line_for(lines, ppath),
                    format_path(ppath),
                    f"source {entry.source} expects param {' or '.join(alternatives)}",
                    "warning",
                )
            )
    return out


def _lint_source(
    source: SourceEntry, index: int, directory: Path, label: str, lines: Mapping[YamlPath, int]
) -> list[ClaimIssue]:
    out: list[ClaimIssue] = []
    base: YamlPath = ("sources", index)
    if source.published_on is not None and source.published_precision is None:
        path: YamlPath = (*base, "published_precision")
        out.append(
            ClaimIssue(
                label,
                _line_for(lines, base),
                format_path(path),
                "required with published_on: expected day, month or year",
            )
        )
    if source.published_on is not None and source.published_precision in ("month", "year"):
        date = source.published_on
        wrong = date.day != 1 or (source.published_precision == "year" and date.month != 1)
        if wrong:
            path = (*base, "published_on")
            out.append(
                ClaimIssue(
                    label,
                    _line_for(lines, path),
                    format_path(path),
                    f"precision {source.published_precision}: expected the first day of "
                    f"the {source.published_precision}, got {date.isoformat()}",
                )
            )
    if source.archive is not None:
        archived = directory / source.archive
        path = (*base, "archive")
        if not archived.is_file():
            out.append(
                ClaimIssue(
                    label,
                    _line_for(lines, path),
                    format_path(path),
                    f"archived copy {source.archive} does not exist",
                )
            )
        elif source.archived_sha256 is not None:
            actual = hashlib.sha256(archived.read_bytes()).hexdigest()
            if actual != source.archived_sha256:
                spath = (*base, "archived_sha256")
                out.append(
                    ClaimIssue(
                        label,
                        _line_for(lines, spath),
                        format_path(spath),
                        f"does not match the archived copy (its sha256 is {actual})",
                    )
                )
    return out


# --- normalised documents, hashes, diffs ---


def normalised_document(claim: ClaimFile) -> dict[str, Any]:
    """The claim as stored: defaults filled in, empty fields dropped, no revision note."""
    doc = claim.model_dump(mode="json", exclude_none=True, exclude={"revision_note"})
    doc["criteria"] = [_criterion_in_reading_order(c) for c in doc["criteria"]]
    return doc


def _criterion_in_reading_order(spec: dict[str, Any]) -> dict[str, Any]:
    first = ("key", "type", "role", "description", "series")
    return {**{k: spec[k] for k in first if k in spec}, **spec}


def canonical_json(doc: Any) -> str:
    return json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def content_hash(doc: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON of a normalised claim document."""
    return hashlib.sha256(canonical_json(doc).encode("utf-8")).hexdigest()


def dump_claim_yaml(doc: Mapping[str, Any]) -> str:
    """A claim document as YAML, in the field order of the format (readable in diffs)."""
    return yaml.safe_dump(dict(doc), sort_keys=False, allow_unicode=True, width=100)


def claim_to_document(claim_row: Claim) -> dict[str, Any]:
    """The stored normalised document of a claim (a valid claim file once dumped)."""
    return dict(claim_row.spec)


def readable_diff(old: Mapping[str, Any], new: Mapping[str, Any], slug: str, v_old: int) -> str:
    lines = difflib.unified_diff(
        dump_claim_yaml(old).splitlines(keepends=True),
        dump_claim_yaml(new).splitlines(keepends=True),
        fromfile=f"{slug} v{v_old}",
        tofile=f"{slug} v{v_old + 1}",
    )
    return "".join(lines)


# --- writing to the database ---

Outcome = Literal["created", "updated", "unchanged", "withdrawn", "reactivated"]


@dataclass
class ApplyResult:
    outcome: Outcome
    claim: Claim
    revision: ClaimRevision | None = None


def _by_slug(session: Session, model: Any, slug: str) -> Any:
    return session.exec(select(model).where(model.slug == slug)).first()


def _claim_row_values(
    claim: ClaimFile, doc: dict[str, Any], refs: dict[str, int | None]
) -> dict[str, Any]:
    window = claim.window or DateWindow()
    return {
        "title": claim.title,
        "quote_original": claim.quote.original,
        "quote_language": claim.quote.language,
        "quote_en": claim.quote.en,
        "claimant_id": refs["claimant"],
        "reporter_id": refs["reporter"],
        "source_document_id": refs["source"],
        "stated_on": claim.stated.date,
        "stated_precision": claim.stated.precision,
        "stated_note": claim.stated.note,
        "window_start": window.start,
        "window_end": window.end,
        "deadline": claim.deadline,
        "deadline_interpretation": claim.deadline_interpretation,
        "deadline_alternative": claim.deadline_alternative,
        "kind": claim.kind,
        "tags": list(claim.tags),
        "lifecycle": claim.lifecycle,
        "operationalised_by": claim.operationalised_by,
        "variant_of": claim.variant_of,
        "probability": claim.probability,
        "spec": doc,
        "content_hash": content_hash(doc),
    }


def _resolve_refs(
    session: Session, claim: ClaimFile
) -> tuple[dict[str, int | None], list[ClaimIssue]]:
    """Row ids of the claimant, reporter and source, and the references that are not stored."""
    refs: dict[str, int | None] = {"claimant": None, "reporter": None, "source": None}
    problems: list[ClaimIssue] = []
    for fld, model, slug in (
        ("claimant", Claimant, claim.claimant),
        ("reporter", Claimant, claim.reporter),
        ("source", SourceDocument, claim.source),
    ):
        if slug is None:
            continue
        row = _by_slug(session, model, slug)
        if row is None:
            kind = "claimant" if model is Claimant else "source"
            message = _unknown_reference(kind, slug, _IN_THE_DATABASE)
            problems.append(ClaimIssue(claim.source_label, claim.line_of(fld), fld, message))
        else:
            refs[fld] = row.id
    if claim.variant_of is not None and _by_slug(session, Claim, claim.variant_of) is None:
        problems.append(
            ClaimIssue(
                claim.source_label,
                claim.line_of("variant_of"),
                "variant_of",
                _unknown_reference("claim", claim.variant_of, _IN_THE_DATABASE),
            )
        )
    return refs, problems


def _note_refusal(
    session: Session, claim: ClaimFile, row: Claim, doc: Mapping[str, Any], given_note: str | None
) -> ClaimIssue | None:
    """The refusal of a criteria change to a non-draft claim without a new revision note."""
    assert row.id is not None
    criteria_changed = canonical_json(row.spec.get("criteria")) != canonical_json(doc["criteria"])
    if not criteria_changed or row.lifecycle == "draft":
        return None
    previous_note = _last_note(session, row.id)
    if not given_note:
        refusal = (
            f"the criteria of {row.lifecycle} claim {claim.slug!r} changed: expected a "
            "`revision_note:` saying why (the change is refused without one)"
        )
    elif given_note == previous_note:
        refusal = (
            "the criteria changed but `revision_note` is the previous revision's note "
            f"({previous_note!r}): expected a new note for this change"
        )
    else:
        return None
    # the note when the file has one, else the criteria that changed (not the document's top)
    where = claim.line_of("revision_note" if claim.revision_note else "criteria")
    return ClaimIssue(claim.source_label, where, "revision_note", refusal)


def _change_refusal(
    session: Session,
    claim: ClaimFile,
    row: Claim,
    doc: Mapping[str, Any],
    origin: str,
    given_note: str | None,
) -> ClaimIssue | None:
    """What `apply_claim` refuses about a change to a stored claim; writes nothing."""
    if row.content_hash == content_hash(doc):
        return None
    if origin == "file" and _withdrawn_elsewhere(session, row, doc):
        return None
    return _note_refusal(session, claim, row, doc, given_note)


def _file_change_refusal(session: Session, claim: ClaimFile) -> ClaimIssue | None:
    row: Claim | None = _by_slug(session, Claim, claim.slug)
    if row is None:
        return None
    doc = normalised_document(claim)
    return _change_refusal(session, claim, row, doc, "file", claim.revision_note)


def _criterion_rows(
    claim_id: int, claim: ClaimFile, version: int, now: dt.datetime
) -> list[CriterionRow]:
    return [
        CriterionRow(
            claim_id=claim_id,
            key=c.key,
            role=c.role,
            kind=c.type,
            spec=c.model_dump(mode="json", exclude_none=True),
            criteria_version=version,
            valid_from=now,
        )
        for c in claim.criteria
    ]


def _last_note(session: Session, claim_id: int) -> str | None:
    return session.exec(
        select(ClaimRevision.note)
        .where(ClaimRevision.claim_id == claim_id, col(ClaimRevision.note).is_not(None))
        .order_by(col(ClaimRevision.version).desc())
    ).first()


def first_known(claim: ClaimFile, now: dt.datetime) -> dt.datetime:
    """When a claim file's claim is known from, created by a sync at `now`: the start of its
    `catalogued` day (UTC) when the file gives one, never later than `now`; else `now`."""
    if claim.catalogued is None:
        return now
    return min(now, dt.datetime.combine(claim.catalogued, dt.time(), tzinfo=dt.UTC))


def catalogued_on(revision: ClaimRevision) -> dt.date | None:
    """The claim file's `catalogued` day when a sync dated this first version from it (the
    revision then says so: it was loaded later than its date), else None."""
    if revision.version != 1 or revision.change != "created" or revision.origin != "file":
        return None
    raw = (revision.content or {}).get("catalogued")
    if not isinstance(raw, str):
        return None
    day = dt.date.fromisoformat(raw)
    at = revision.created_at
    at = at if at.tzinfo is not None else at.replace(tzinfo=dt.UTC)
    return day if at == dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC) else None


def apply_claim(
    session: Session,
    claim: ClaimFile,
    *,
    origin: str,
    author: str | None = None,
    note: str | None = None,
    now: dt.datetime | None = None,
) -> ApplyResult:
    """Insert or revise one claim (a ClaimRevision per change); does not commit.

    Changing the criteria of a claim that is not a draft needs a note (`note`, or the file's
    `revision_note`) that differs from the previous revision's note; else ClaimValidationError.
    """
    now = now or utcnow()
    refs, problems = _resolve_refs(session, claim)
    doc = normalised_document(claim)
    values = _claim_row_values(claim, doc, refs)
    origin_path = claim.source_label if origin == "file" else None
    given_note = note or claim.revision_note
    row: Claim | None = _by_slug(session, Claim, claim.slug)
    refusal = None
    if row is not None:
        refusal = _change_refusal(session, claim, row, doc, origin, given_note)
    if row is None and origin != "file" and claim.catalogued is not None:
        problems = [
            *problems,
            ClaimIssue(
                claim.source_label,
                claim.line_of("catalogued"),
                "catalogued",
                "only a claim file synced from the claims directory may date its first version "
                "from `catalogued`; a claim created here is catalogued now: remove the field",
            ),
        ]
    if problems or refusal is not None:
        raise ClaimValidationError([*problems, *([refusal] if refusal is not None else [])])
    if row is None:
        known_from = first_known(claim, now) if origin == "file" else now
        row = Claim(
            slug=claim.slug,
            origin=origin,
            origin_path=origin_path,
            version=1,
            criteria_version=1,
            created_at=known_from,
            updated_at=now,
            **values,
        )
        session.add(row)
        session.flush()
        assert row.id is not None
        revision = ClaimRevision(
            claim_id=row.id,
            version=1,
            change="created",
            note=given_note,
            criteria_changed=True,
            content_hash=values["content_hash"],
            content=doc,
            origin=origin,
            author=author,
            created_at=known_from,
        )
        session.add(revision)
        session.add_all(_criterion_rows(row.id, claim, 1, known_from))
        session.flush()
        return ApplyResult("created", row, revision)

    assert row.id is not None
    if row.content_hash == values["content_hash"]:
        if origin == "file" and row.origin == "file" and row.origin_path != origin_path:
            row.origin_path = origin_path
            session.add(row)
        return ApplyResult("unchanged", row)

    old_doc = dict(row.spec)
    if origin == "file" and _withdrawn_elsewhere(session, row, doc):
        # withdrawn through the API while its file stayed as it was: the file does not revive it
        return ApplyResult("unchanged", row)
    criteria_changed = canonical_json(old_doc.get("criteria")) != canonical_json(doc["criteria"])
    previous_note = _last_note(session, row.id)
    revision_note = given_note if given_note != previous_note else None
    if doc["lifecycle"] == "withdrawn" and row.lifecycle != "withdrawn":
        change: Outcome = "withdrawn"
    elif row.lifecycle == "withdrawn" and doc["lifecycle"] != "withdrawn":
        change = "reactivated"
    else:
        change = "updated"
    diff = readable_diff(old_doc, doc, claim.slug, row.version)
    row.version += 1
    for name, value in values.items():
        setattr(row, name, value)
    row.origin = origin
    if origin == "file":
        row.origin_path = origin_path
    row.updated_at = now
    if criteria_changed:
        for old in session.exec(
            select(CriterionRow).where(
                CriterionRow.claim_id == row.id, col(CriterionRow.valid_until).is_(None)
            )
        ).all():
            old.valid_until = now
            session.add(old)
        row.criteria_version += 1
        session.add_all(_criterion_rows(row.id, claim, row.criteria_version, now))
    revision = ClaimRevision(
        claim_id=row.id,
        version=row.version,
        change=change,
        note=revision_note,
        diff=diff,
        criteria_changed=criteria_changed,
        content_hash=values["content_hash"],
        content=doc,
        origin=origin,
        author=author,
        created_at=now,
    )
    session.add(row)
    session.add(revision)
    session.flush()
    return ApplyResult(change, row, revision)


def _withdrawn_elsewhere(session: Session, row: Claim, doc: Mapping[str, Any]) -> bool:
    if row.lifecycle != "withdrawn" or doc.get("lifecycle") == "withdrawn":
        return False
    if canonical_json({**row.spec, "lifecycle": doc.get("lifecycle")}) != canonical_json(doc):
        return False
    last = session.exec(
        select(ClaimRevision)
        .where(ClaimRevision.claim_id == row.id)
        .order_by(col(ClaimRevision.version).desc())
    ).first()
    return last is not None and last.change == "withdrawn" and last.origin != "file"


def withdraw_claim(
    session: Session,
    claim_row: Claim,
    *,
    note: str | None,
    author: str | None,
    now: dt.datetime | None = None,
    origin: str = "api",
) -> ClaimRevision | None:
    """Mark a claim withdrawn with a ClaimRevision (history stays); None if it already was.

    `origin` says where the withdrawal came from: "api" (default) or "file" (its file was
    removed). A file claim withdrawn through the API stays withdrawn while its file is unchanged.
    """
    if claim_row.lifecycle == "withdrawn":
        return None
    assert claim_row.id is not None
    now = now or utcnow()
    old_doc = dict(claim_row.spec)
    doc = {**old_doc, "lifecycle": "withdrawn"}
    digest = content_hash(doc)
    revision = ClaimRevision(
        claim_id=claim_row.id,
        version=claim_row.version + 1,
        change="withdrawn",
        note=note,
        diff=readable_diff(old_doc, doc, claim_row.slug, claim_row.version),
        criteria_changed=False,
        content_hash=digest,
        content=doc,
        origin=origin,
        author=author,
        created_at=now,
    )
    claim_row.version += 1
    claim_row.lifecycle = "withdrawn"
    claim_row.spec = doc
    claim_row.content_hash = digest
    claim_row.updated_at = now
    session.add(claim_row)
    session.add(revision)
    session.flush()
    return revision


# --- syncing a directory ---


@dataclass
class SyncReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    reactivated: list[str] = field(default_factory=list)
    withdrawn: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    catalogue_changes: list[str] = field(default_factory=list)
    # keys of the indicators this sync created or updated: the claims reading them may need
    # re-evaluating (their inputs key holds the indicator's metadata; see tracker.status)
    indicators_changed: list[str] = field(default_factory=list)
    warnings: list[ClaimIssue] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(
            self.created
            or self.updated
            or self.reactivated
            or self.withdrawn
            or self.catalogue_changes
        )

    def summary(self) -> str:
        if not self.changed:
            return f"claims: no changes ({len(self.unchanged)} unchanged)"
        parts = [
            f"{len(self.created)} created",
            f"{len(self.updated)} updated",
            f"{len(self.withdrawn)} withdrawn",
            f"{len(self.reactivated)} reactivated",
            f"{len(self.unchanged)} unchanged",
        ]
        extra = f"; {len(self.catalogue_changes)} claimant/source/indicator changes"
        return "claims: " + ", ".join(parts) + (extra if self.catalogue_changes else "")


def _upsert(
    session: Session,
    model: Any,
    key_attr: str,
    key: str,
    values: dict[str, Any],
    now: dt.datetime,
) -> str | None:
    """Insert or update one config row; return 'created'/'updated', or None if unchanged."""
    row = session.exec(select(model).where(getattr(model, key_attr) == key)).first()
    if row is None:
        stamps = {name: now for name in ("created_at", "updated_at") if name in model.model_fields}
        session.add(model(**{key_attr: key}, **values, **stamps))
        return "created"
    changed = False
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    if changed:
        if hasattr(row, "updated_at"):
            row.updated_at = now
        session.add(row)
        return "updated"
    return None


def sync_listings(
    session: Session, result: CheckResult, *, now: dt.datetime | None = None
) -> list[str]:
    """Upsert claimants, source documents and indicators (config: updated in place)."""
    return _sync_listings(session, result, now or utcnow())[0]


def _sync_listings(
    session: Session, result: CheckResult, now: dt.datetime
) -> tuple[list[str], list[str]]:
    """`sync_listings`, also returning the keys of the indicators created or updated."""
    changes: list[str] = []
    indicators: list[str] = []
    for claimant in result.claimants:
        values = claimant.model_dump(exclude={"slug"})
        if (change := _upsert(session, Claimant, "slug", claimant.slug, values, now)) is not None:
            changes.append(f"claimant {claimant.slug} {change}")
    for source in result.sources:
        values = source.model_dump(exclude={"slug", "archive"})
        if (
            change := _upsert(session, SourceDocument, "slug", source.slug, values, now)
        ) is not None:
            changes.append(f"source {source.slug} {change}")
    for entry in result.catalogue:
        # listed in a file: the file owns it now, an indicator declared over the API included
        values = {**entry_to_row_values(entry), "origin": "file"}
        if (change := _upsert(session, Indicator, "key", entry.key, values, now)) is not None:
            changes.append(f"indicator {entry.key} {change}")
            indicators.append(entry.key)
    session.flush()
    return changes, indicators


def _indicator_removal(session: Session, path: Path, result: CheckResult) -> Removal:
    """Indicators no longer in the directory's indicators.yaml: removable, or the sync is
    refused naming each one kept and why (never ignored). Nothing to do without the file."""
    listing = path / "indicators.yaml"
    if not path.is_dir() or not listing.exists():
        return Removal()
    removal = unlisted_indicators(session, [e.key for e in result.catalogue])
    if removal.kept:
        raise ClaimValidationError(
            [ClaimIssue(_label(listing), None, key, why) for key, why in removal.kept.items()]
        )
    return removal


def sync_claims_dir(
    session: Session,
    path: Path,
    *,
    author: str | None = None,
    now: dt.datetime | None = None,
    allow_empty: bool = False,
) -> SyncReport:
    """Validate every file under `path`, then write them all; does not commit.

    Raises ClaimValidationError (nothing valid is worth half a sync: the caller rolls back).
    Claims whose file is gone are withdrawn, except those created through the API.
    """
    result = check_claims_path(path)
    if result.errors:
        # the files that did check may still be refused (a criteria change without a new
        # note): say so in the same answer rather than after the other files are fixed
        refusals = [r for c in result.claims if (r := _file_change_refusal(session, c))]
        found = sorted([*result.errors, *refusals], key=lambda i: (i.file, i.line or 0))
        raise ClaimValidationError(found)
    now = now or utcnow()
    removal = _indicator_removal(session, path, result)
    report = SyncReport(warnings=result.warnings)
    report.catalogue_changes, report.indicators_changed = _sync_listings(session, result, now)
    for gone in removal.removable:  # listed no more, nothing ever recorded about it
        session.delete(gone)
        report.catalogue_changes.append(f"indicator {gone.key} removed")
    errors: list[ClaimIssue] = []
    ordered = sorted(result.claims, key=lambda c: (c.variant_of is not None, c.slug))
    for claim in ordered:
        try:
            outcome = apply_claim(session, claim, origin="file", author=author, now=now).outcome
        except ClaimValidationError as exc:
            errors.extend(exc.errors)
            continue
        getattr(report, outcome).append(claim.slug)
    if errors:
        raise ClaimValidationError(errors)
    present = {c.slug for c in result.claims}
    candidates = session.exec(
        select(Claim).where(Claim.origin == "file", Claim.lifecycle != "withdrawn")
    ).all()
    if not present and candidates and not allow_empty:
        # most likely a wrong directory, not the wish to withdraw every claim at once
        raise ClaimValidationError(
            [
                ClaimIssue(
                    _label(path),
                    None,
                    "(path)",
                    f"holds no claim files, so syncing it would withdraw all "
                    f"{len(candidates)} claims from files: expected the claims directory "
                    "(to withdraw them all, sync with allow_empty / --allow-empty)",
                )
            ]
        )
    for row in candidates:
        if row.slug in present:
            continue
        withdraw_claim(
            session,
            row,
            note=f"claim file {row.origin_path or row.slug + '.yaml'} was removed",
            author=author,
            now=now,
            origin="file",
        )
        report.withdrawn.append(row.slug)
    return report


def sync_claims_step(settings: Settings, engine: Engine) -> str | None:
    """Start-up step of `tracker serve`: sync the claims directory (unless turned off)."""
    from tracker.startup import StartupError  # startup lists this step, so import lazily

    if not settings.sync_claims_on_start:
        return None
    directory = settings.claims_dir
    if not directory.is_dir():
        return f"claims: directory {directory} not found, nothing synced"
    try:
        with session_scope(engine) as session:
            report = sync_claims_dir(session, directory)
    except ClaimValidationError as exc:
        first = exc.errors[0] if exc.errors else "unknown error"
        raise StartupError(
            f"claims in {directory} are invalid ({len(exc.errors)} error(s); first: {first}); "
            f"nothing was synced. Run `tracker claims check {directory}`"
        ) from exc
    return f"{report.summary()} from {directory}"
