"""Numbers as text: the one formatter behind reason texts, the API, the dashboard and the CLI.

Pure functions, no clock or I/O. The rules every reader sees:
- large values read as words with at least one decimal and four significant figures
  ("124.0 million", "1.409 billion", "1.2 billion"); from 1e15 up (FLOP-scale quantities
  spanning many orders of magnitude) scientific ("5e+26");
- a value printed beside a threshold carries enough digits to differ from it, on both sides
  (`format_pair`: 69.63 against 69.62 never both print "69.6");
- a growth rate is printed per year only over a horizon of a year or more (`format_rate`);
  over a shorter one, the change over that horizon (`format_change`, `horizon_text`);
- nothing prints as "-0.0" or "-0": a non-zero value gets the digits it needs, zero is "0".
"""

from __future__ import annotations

import functools
import math

# scaled words up to the trillions, four significant figures, at least one decimal
_LARGE_WORDS = ((1e12, "trillion"), (1e9, "billion"), (1e6, "million"))
SCIENTIFIC_FROM = 1e15
# how many more digits a value may take to differ from the number beside it
MAX_EXTRA_DIGITS = 12
# rates are annualised over horizons of at least this many years (see `format_rate`)
ANNUALISE_FROM_YEARS = 1.0


def format_number(value: float, beside: float | None = None) -> str:
    """A readable number (one style everywhere).

    Below 1e-3 or from 1e15 up: scientific, three significant figures (5e26 → "5e+26");
    from a million up: four significant figures (at least one decimal) and a scale word
    (1408975000 → "1.409 billion", 1.24e8 → "124.0 million", 1.2e9 → "1.2 billion");
    from 100 up: whole numbers, thousands grouped (10583.4 → "10,583"); otherwise three
    significant figures (2.3416 → "2.34", 3 → "3.0").

    `beside`: a number printed next to it (a projection's threshold): where the two differ but
    would print the same, more digits, until they do not (2.998 beside 3.0: "2.998"). Use
    `format_pair` to print both with those digits.
    """
    if beside is None:
        return _format(value)
    return format_pair(value, beside)[0]


def format_pair(value: float, other: float) -> tuple[str, str]:
    """`value` and `other` printed with the same number of extra digits, as few as make them
    differ when they differ (69.63, 69.62 → "69.63", "69.62"; 2.5, 3.0 → "2.5", "3.0")."""
    extra = 0
    text, other_text = _format(value), _format(other)
    if value == other or not math.isfinite(value) or not math.isfinite(other):
        return text, other_text
    while text == other_text and extra < MAX_EXTRA_DIGITS:
        extra += 1
        text, other_text = _format(value, extra), _format(other, extra)
    return text, other_text


@functools.lru_cache(maxsize=65_536)  # a series' latest value and fit recur across claims
def _format(value: float, extra: int = 0) -> str:
    """`format_number` with `extra` more significant digits (decimals from 100 up)."""
    if value == 0:
        return "0"  # -0.0 too
    if not math.isfinite(value):
        return "—" if math.isnan(value) else ("∞" if value > 0 else "-∞")
    magnitude = abs(value)
    if extra == 0:  # the common case, with constant format specifications (faster)
        if magnitude >= SCIENTIFIC_FROM * 0.99995 or magnitude < 1e-3:
            return f"{value:.3g}"  # never "0" or "-0" for a non-zero value
        for scale, word in _LARGE_WORDS:
            if magnitude >= scale * 0.99995:
                scaled = f"{value / scale:.4g}"
                if "e" in scaled:
                    scaled = f"{value / scale:.1f}"
                return f"{scaled if '.' in scaled else scaled + '.0'} {word}"
        if magnitude >= 100:
            return f"{value:,.0f}"
        text = f"{value:.3g}"
        return text if "." in text or "e" in text else f"{text}.0"
    if magnitude >= SCIENTIFIC_FROM * 0.99995 or magnitude < 1e-3:
        return f"{value:.{3 + extra}g}"
    for scale, word in _LARGE_WORDS:
        if magnitude >= scale * 0.99995:  # 999,999,999 reads "1.0 billion", not "1000 million"
            scaled = f"{value / scale:.{4 + extra}g}"
            if "e" in scaled:  # 1000 million at four figures: a scale word too small
                scaled = f"{value / scale:.1f}"
            return f"{scaled if '.' in scaled else scaled + '.0'} {word}"
    if magnitude >= 100:
        return f"{value:,.{extra}f}"
    text = f"{value:.{3 + extra}g}"
    return text if "." in text or "e" in text else f"{text}.0"


def format_quantity(
    value: float | None, unit: str | None = None, beside: float | None = None
) -> str:
    """A value with its unit for reading ("124.0 million persons"): "—" for none or NaN; a
    probability (unit "probability", 0..1) as a percentage ("6 % probability"); unit "1"
    (a ratio) printed bare. `beside`: as in `format_number` (a value next to its threshold)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if unit == "probability" and 0 <= value <= 1:
        return f"{format_percent(value)} probability"
    other = float(beside) if beside is not None else None
    text = format_number(float(value), other)
    if unit and unit != "1":
        return f"{text} {unit}"
    return text


def format_percent(fraction: float) -> str:
    """A share in [0, 1] as a whole percentage ("62 %"); never "0 %" or "100 %" unless it is
    exactly that ("<1 %", ">99 %")."""
    percent = fraction * 100
    if 0 < percent < 0.5:
        return "<1 %"
    if 99.5 <= percent < 100:
        return ">99 %"
    return f"{percent:.0f} %"


def format_chance(probability: float) -> str:
    """A probability of coming true as the dashboard says it: "62 % chance"."""
    return f"{format_percent(probability)} chance"


def format_rate(rate: float, beside: float | None = None) -> str:
    """A growth rate per year as a signed percentage, one decimal ("+5.1 %/yr").

    Never "+0.0" or "-0.0" for a non-zero rate: as many decimals as its first significant
    digit needs ("-0.04 %/yr"). `beside`: the rate it is compared with (the trend's against
    the one needed): both printed with the same decimals, more where they differ but would
    print the same ("+5.08" against "+5.07"); call it both ways for the pair.
    Only for horizons of a year or more: over a shorter one use `format_change`.
    """
    return f"{_signed_percent(rate, beside, zero='0.0')} %/yr"


def format_change(change: float, beside: float | None = None) -> str:
    """A relative change over a stated horizon as a signed percentage ("+2.3 %"), with the
    digit rules of `format_rate` (never "-0.0 %"; enough decimals to differ from `beside`)."""
    return f"{_signed_percent(change, beside, zero='0.0')} %"


def _signed_percent(fraction: float, beside: float | None, *, zero: str) -> str:
    if fraction == 0:
        return zero
    percent = fraction * 100
    if not math.isfinite(percent):
        return f"{percent:+}"
    decimals = _decimals(percent)
    text = f"{percent:+.{decimals}f}"
    if beside is not None and beside != fraction and math.isfinite(beside):
        other = beside * 100
        other_decimals = _decimals(other)
        if other_decimals > decimals:
            decimals = other_decimals
            text = f"{percent:+.{decimals}f}"
        while text == f"{other:+.{decimals}f}" and decimals < MAX_EXTRA_DIGITS:
            decimals += 1
            text = f"{percent:+.{decimals}f}"
    return text


def _decimals(percent: float) -> int:
    """One decimal, or as many as the first significant digit of a smaller percentage needs."""
    magnitude = abs(percent)
    if magnitude >= 0.05 or magnitude == 0:  # from 0.05 up, one decimal is not "0.0"
        return 1
    return min(MAX_EXTRA_DIGITS, -math.floor(math.log10(magnitude)))


def change_over(rate: float, years: float) -> float:
    """The relative change a per-year `rate` compounds to over `years`: (1 + rate)^years − 1
    (monotone in the rate, so comparing changes over one horizon is comparing the rates)."""
    if rate <= -1:
        return -1.0
    if math.isinf(rate):
        return math.inf
    try:
        return math.expm1(years * math.log1p(rate))
    except OverflowError:
        return math.inf


def horizon_text(days: int) -> str:
    """A horizon shorter than a year in words: "1 day", "15 days", "5 months"."""
    if days < 60:
        return f"{days} day" + ("" if days == 1 else "s")
    months = round(days / 30.4375)
    return f"{months} months"


def rate_text(rate: float, years: float, days: int, beside: float | None = None) -> str:
    """A per-year `rate` as a reader should see it over a horizon of `years` (`days` long):
    per year from a year up ("+5.1 %/yr"), else the change over the horizon ("+2.3 % in 15
    days"); `beside` as in `format_rate`, over the same horizon."""
    if years >= ANNUALISE_FROM_YEARS:
        return format_rate(rate, beside)
    change = change_over(rate, years)
    other = change_over(beside, years) if beside is not None else None
    return f"{format_change(change, other)} in {horizon_text(days)}"
