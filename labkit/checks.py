"""Check helpers for exercise notebooks: a failed check says what was expected, what was found,
and what to try next, in words a learner understands.

    from labkit.checks import check, check_equal, check_close, check_columns, check_frame_equal
    check_columns(features, ["user_id", "clicks_1h"], what="your feature table")

Every failure raises ``AssertionError`` (so a check cell fails like a plain ``assert``), with a
message of the form::

    Check failed: <what> should be <expected>, but it is <found>.
    Hint: <what to try>
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

_MAX_REPR = 200


def _short(value: Any) -> str:
    """A repr short enough to read in a notebook's error box."""
    text = repr(value)
    return text if len(text) <= _MAX_REPR else text[: _MAX_REPR - 15] + f"... ({len(text)} chars)"


def _fail(message: str, hint: str | None) -> None:
    text = f"Check failed: {message}"
    if hint:
        text += f"\nHint: {hint}"
    # `from None`: the learner needs our sentence, not the helper's internals.
    raise AssertionError(text) from None


def check(condition: Any, message: str, hint: str | None = None) -> None:
    """Fail with ``message`` (and ``hint``) unless ``condition`` is true."""
    if not condition:
        _fail(message, hint)


def check_type(value: Any, expected: type | tuple[type, ...], what: str = "the value", hint: str | None = None) -> None:
    """``value`` must be an instance of ``expected``."""
    if not isinstance(value, expected):
        names = " or ".join(t.__name__ for t in (expected if isinstance(expected, tuple) else (expected,)))
        found = (
            "None (did the function forget to `return`?)"
            if value is None
            else f"a {type(value).__name__}: {_short(value)}"
        )
        _fail(f"{what} should be a {names}, but it is {found}.", hint)


def check_equal(actual: Any, expected: Any, what: str = "the value", hint: str | None = None) -> None:
    """``actual == expected``, with a note when only the type differs (b'1' vs '1', 1 vs '1')."""
    if actual == expected:
        return
    message = f"{what} should be {_short(expected)}, but it is {_short(actual)}."
    if type(actual) is not type(expected):
        message += f" (expected a {type(expected).__name__}, got a {type(actual).__name__})"
        if isinstance(actual, bytes) and isinstance(expected, str):
            hint = hint or "the client returned bytes: decode them with .decode('utf-8')."
    _fail(message, hint)


def check_close(
    actual: Any,
    expected: float,
    rtol: float = 1e-6,
    atol: float = 0.0,
    what: str = "the value",
    hint: str | None = None,
) -> None:
    """``actual`` is a number within ``atol + rtol * |expected|`` of ``expected``."""
    try:
        value = float(actual)
    except (TypeError, ValueError):
        _fail(f"{what} should be a number close to {expected!r}, but it is {_short(actual)}.", hint)
        return
    tolerance = atol + rtol * abs(expected)
    if math.isnan(value) or abs(value - expected) > tolerance:
        _fail(
            f"{what} should be {expected!r} (within {tolerance:.3g}), but it is {value!r}"
            f" (off by {abs(value - expected):.3g}).",
            hint,
        )


def check_columns(
    df: Any, expected: Iterable[str], what: str = "the DataFrame", exact: bool = False, hint: str | None = None
) -> None:
    """``df`` has (at least, or with ``exact`` exactly) the ``expected`` columns; order is not checked."""
    columns = getattr(df, "columns", None)
    if columns is None:
        _fail(f"{what} should be a DataFrame with columns {sorted(expected)}, but it is {_short(df)}.", hint)
    found = [str(c) for c in columns]
    wanted = list(expected)
    missing = [c for c in wanted if c not in found]
    extra = [c for c in found if c not in wanted] if exact else []
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {missing}")
        if extra:
            parts.append(f"unexpected {extra}")
        _fail(f"{what} should have columns {wanted}; it has {found} ({', '.join(parts)}).", hint)


def check_len(value: Any, expected: int, what: str = "the result", hint: str | None = None) -> None:
    """``len(value) == expected``."""
    try:
        n = len(value)
    except TypeError:
        _fail(f"{what} should hold {expected} items, but it is {_short(value)}, which has no length.", hint)
        return
    if n != expected:
        _fail(f"{what} should hold {expected} items, but it holds {n}.", hint)


def check_frame_equal(
    actual: Any,
    expected: Any,
    what: str = "the DataFrame",
    hint: str | None = None,
    ignore_order: bool = True,
    **kwargs: Any,
) -> None:
    """Two pandas DataFrames hold the same data. With ``ignore_order`` (default) row and column order
    do not matter. Extra keyword arguments go to ``pandas.testing.assert_frame_equal``
    (e.g. ``check_dtype=False``, ``rtol=1e-3``)."""
    import pandas as pd

    if not isinstance(actual, pd.DataFrame):
        _fail(f"{what} should be a pandas DataFrame, but it is {_short(actual)}.", hint)
    check_columns(actual, list(expected.columns), what=what, exact=True, hint=hint)
    if len(actual) != len(expected):
        _fail(f"{what} should have {len(expected)} rows, but it has {len(actual)}.", hint)
    left, right = actual, expected
    if ignore_order:
        cols = sorted(expected.columns, key=str)
        left = actual[cols].sort_values(cols).reset_index(drop=True)
        right = expected[cols].sort_values(cols).reset_index(drop=True)
    try:
        pd.testing.assert_frame_equal(left, right, **kwargs)
    except AssertionError as exc:
        # pandas' own message names the column and the differing values; keep it, shortened.
        detail = " ".join(str(exc).split())[:400]
        _fail(f"{what} has the right shape but different values: {detail}", hint)
