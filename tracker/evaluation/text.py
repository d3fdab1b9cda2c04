"""Reason texts as structured parts: a message id (the English text with `{name}` slots) and its
typed arguments, rendered in English here (the evaluator's `reason`) and in other languages at
read time (tracker.i18n.reasons).

A part is JSON-ready, so it is stored with the evaluation as it is built:
- a `str`: verbatim text (a criterion key, a rubric, an error message, an aggregate function);
- a list `[kind, text]`: a typed value, its text as the English reason prints it (so every
  language shows the same digits): "n" a number (tracker.numbers.format_number/format_pair),
  "r" a growth rate ("+5.1 %/yr"), "c" a change ("+2.3 %"), "x" a factor rate ("2.5x/yr"),
  "p" a period ("2030", "2026-07", "2026-Q3", "2026-W05", "2026-07-03", "2020..2030"),
  "d" a day (ISO), "o" an outcome ("true"), "i" a count;
- a dict `{"m": msgid, name: part, ...}`: a message with its arguments;
- a dict `{"j": separator, "i": [part, ...]}`: parts joined ("; " between clauses);
- stored only, a dict `{"c": index}`: the parts of the evaluation's criterion `index` (a claim's
  reason embeds its criteria's, stored once beside it; see `referring`/`resolved`).

Pure and cheap: building a part is building a few dicts and lists; rendering English is one
`str.format_map` per message. Nothing here imports the catalogs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

Part = Any  # str | list[str] | dict[str, Any] (JSON-ready; see the module docstring)


def msg(msgid: str, **args: Part) -> dict[str, Any]:
    """A message: `msgid` is the English text with `{name}` slots for `args`."""
    args["m"] = msgid
    return args


def join(separator: str, items: Sequence[Part]) -> dict[str, Any]:
    return {"j": separator, "i": list(items)}


def num(text: str) -> list[str]:
    return ["n", text]


def period(value: str) -> list[str]:
    return ["p", value]


def day(iso: str) -> list[str]:
    return ["d", iso]


def rate(text: str) -> list[str]:
    """A growth rate as tracker.numbers prints it: "+5.1 %/yr", or "2.5x/yr" (a factor)."""
    return ["x" if text.endswith("x/yr") else "r", text]


def change(text: str) -> list[str]:
    return ["c", text]


def count(value: int) -> list[str]:
    return ["i", str(value)]


def outcome(value: str) -> list[str]:
    return ["o", value]


def rule(comparator: str, threshold: Part) -> dict[str, Any]:
    """ "<comparator> <threshold>" (">= 3.0"): one message per comparator, so a language can
    put the number first ("3.0以上")."""
    return {"m": comparator + " {x}", "x": threshold}


def en(part: Part) -> str:
    """A part in English: exactly the text the evaluator prints (a leaf or a plain string
    inline, no call for it: this runs for every reason of a sweep)."""
    kind = type(part)
    if kind is str:
        return part  # type: ignore[no-any-return]
    if kind is list:
        return part[1]  # type: ignore[no-any-return]
    separator = part.get("j")
    if separator is not None:
        return separator.join([en(p) for p in part["i"]])  # type: ignore[no-any-return]
    args = {}
    for name, value in part.items():  # "m" too: an argument no message names
        kind = type(value)
        args[name] = value if kind is str else value[1] if kind is list else en(value)
    return part["m"].format_map(args)  # type: ignore[no-any-return]


def en_reusing(part: Part, rendered: dict[int, str]) -> str:
    """`en(part)`, taking the text of a sub-part from `rendered` (by the sub-part's id) where it
    is already rendered: a claim's reason embeds its criteria's, rendered once each."""
    hit = rendered.get(id(part))
    if hit is not None:
        return hit
    kind = type(part)
    if kind is str:
        return part  # type: ignore[no-any-return]
    if kind is list:
        return part[1]  # type: ignore[no-any-return]
    separator = part.get("j")
    if separator is not None:
        return separator.join([en_reusing(p, rendered) for p in part["i"]])  # type: ignore[no-any-return]
    args = {}
    for name, value in part.items():
        kind = type(value)
        args[name] = (
            value if kind is str else value[1] if kind is list else en_reusing(value, rendered)
        )
    return part["m"].format_map(args)  # type: ignore[no-any-return]


def referring(part: Part, shared: dict[int, int]) -> Part:
    """`part` for storing beside its criteria's parts: each sub-part that is a criterion's own
    (by id, in `shared`: id → the criterion's index) written as `{"c": index}`, not again."""
    index = shared.get(id(part))
    if index is not None:
        return {"c": index}
    if type(part) is not dict or not shared:
        return part
    separator = part.get("j")
    if separator is not None:
        return {
            "j": separator,
            "i": [referring(p, shared) if type(p) is dict else p for p in part["i"]],
        }
    return {  # leaves (strings, lists) as they are, without a call each
        name: referring(value, shared) if type(value) is dict else value
        for name, value in part.items()
    }


def resolved(part: Part, criteria: list[Part]) -> Part:
    """A stored part with its `{"c": index}` references replaced by those criteria's parts."""
    if type(part) is not dict:
        return part
    index = part.get("c")
    if index is not None:
        return resolved(criteria[index], criteria) if 0 <= index < len(criteria) else ""
    separator = part.get("j")
    if separator is not None:
        return {"j": separator, "i": [resolved(p, criteria) for p in part["i"]]}
    return {name: resolved(value, criteria) for name, value in part.items()}


def verbatim(reason: str, parts: Part | None) -> Part:
    """`parts`, or the reason itself as verbatim text when it has none."""
    return reason if parts is None else parts
