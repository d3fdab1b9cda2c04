"""The chance that a projected value meets a threshold: Student's t in pure Python.

A projection's 95 % band is centre ± t₀.₉₇₅(ν)·se in fitted space (ln v for log-linear; see
tracker.evaluation.TrendFit.half_width), so the predictive distribution there is
centre + se·T with T ~ Student-t(ν). The chance of meeting a threshold is read off its CDF,
computed through the regularized incomplete beta function (no scipy). Pure: no clock or I/O.
"""

from __future__ import annotations

import math

_EPS = 1e-15
_TINY = 1e-300
_MAX_ITERATIONS = 300


def _beta_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function (modified Lentz's method)."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    for m in range(1, _MAX_ITERATIONS + 1):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + aa / c
        c = c if abs(c) > _TINY else _TINY
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + aa / c
        c = c if abs(c) > _TINY else _TINY
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            break
    return h


def regularized_incomplete_beta(a: float, b: float, x: float) -> float:
    """I_x(a, b) for a, b > 0 and 0 <= x <= 1."""
    if not (a > 0 and b > 0):
        raise ValueError("the incomplete beta function needs a, b > 0")
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    front = math.exp(log_front)
    # the continued fraction converges quickly for x < (a + 1) / (a + b + 2); else by symmetry
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _beta_fraction(a, b, x) / a
    return 1.0 - front * _beta_fraction(b, a, 1.0 - x) / b


def student_t_cdf(t: float, degrees_of_freedom: float) -> float:
    """P(T <= t) for Student's t with `degrees_of_freedom` (> 0).

    Through the regularized incomplete beta function; for a whole number of degrees of freedom
    up to `_SERIES_MAX_DF` (every fit of the evaluator: n − 2 for at most 10 points) through
    the finite series of Abramowitz & Stegun 26.7.3–4 instead, the same number several times
    faster (the tests hold the two to each other).
    """
    nu = float(degrees_of_freedom)
    if nu <= 0:
        raise ValueError("Student's t needs positive degrees of freedom")
    if math.isnan(t):
        raise ValueError("t is NaN")
    if math.isinf(t):
        return 1.0 if t > 0 else 0.0
    if nu.is_integer() and nu <= _SERIES_MAX_DF:
        return student_t_cdf_series(t, int(nu))
    tail = 0.5 * regularized_incomplete_beta(nu / 2.0, 0.5, nu / (nu + t * t))
    return 1.0 - tail if t > 0 else tail


_SERIES_MAX_DF = 60


def student_t_cdf_series(t: float, degrees_of_freedom: int) -> float:
    """P(T <= t) for a whole number of degrees of freedom, by the finite series in
    θ = atan(t/√ν) (Abramowitz & Stegun 26.7.3 for odd ν, 26.7.4 for even ν)."""
    nu = degrees_of_freedom
    theta = math.atan(abs(t) / math.sqrt(nu))
    sin, cos2 = math.sin(theta), math.cos(theta) ** 2
    if nu % 2 == 1:
        total = term = 1.0
        for k in range(1, (nu - 1) // 2):  # 1 + (2/3)c² + (2·4)/(3·5)c⁴ + …
            term *= cos2 * (2 * k) / (2 * k + 1)
            total += term
        inside = 2 * theta / math.pi
        if nu > 1:
            inside += 2 / math.pi * sin * math.cos(theta) * total
    else:
        total = term = 1.0
        for k in range(1, nu // 2):  # 1 + (1/2)c² + (1·3)/(2·4)c⁴ + …
            term *= cos2 * (2 * k - 1) / (2 * k)
            total += term
        inside = sin * total
    half = 0.5 * min(1.0, inside)
    return 0.5 + half if t > 0 else 0.5 - half


def chance_to_meet(
    centre: float,
    scale: float,
    degrees_of_freedom: float,
    comparator: str,
    threshold: float,
) -> float:
    """P(centre + scale·T meets `comparator threshold`), T ~ Student-t(ν); all in fitted space.

    `scale` 0 (a perfect fit): 1 or 0 by the centre itself. The distribution is continuous,
    so ">=" and ">" (and "<=" and "<") give the same chance.
    """
    if scale < 0 or math.isnan(scale) or math.isnan(centre) or math.isnan(threshold):
        raise ValueError("a chance needs a finite centre and threshold and a scale >= 0")
    upward = comparator in (">=", ">")
    if scale == 0 or math.isinf(threshold):
        if upward:
            met = centre >= threshold if comparator == ">=" else centre > threshold
        else:
            met = centre <= threshold if comparator == "<=" else centre < threshold
        return 1.0 if met else 0.0
    below = student_t_cdf((threshold - centre) / scale, degrees_of_freedom)
    return min(1.0, max(0.0, 1.0 - below if upward else below))
