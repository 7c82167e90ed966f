"""labkit.checks: each helper passes on good input and fails with a message a learner can act on."""

from __future__ import annotations

import pandas as pd
import pytest

from labkit.checks import check, check_close, check_columns, check_equal, check_frame_equal, check_len, check_type


def test_check_passes_and_fails_with_message_and_hint():
    check(1 + 1 == 2, "never shown")
    with pytest.raises(AssertionError) as info:
        check(False, "the topic should exist", hint="create it with NewTopic")
    assert str(info.value) == "Check failed: the topic should exist\nHint: create it with NewTopic"


def test_check_equal_names_expected_and_found_and_spots_bytes():
    check_equal({"a": "1"}, {"a": "1"})
    with pytest.raises(AssertionError) as info:
        check_equal(b"42", "42", what="the value read back")
    text = str(info.value)
    assert "the value read back should be '42', but it is b'42'" in text
    assert "expected a str, got a bytes" in text and ".decode('utf-8')" in text


def test_check_type_explains_a_missing_return():
    check_type(3, (int, float))
    with pytest.raises(
        AssertionError,
        match=r"put_and_get\(\.\.\.\) should be a bytes, but it is None \(did the function forget to `return`\?\)",
    ):
        check_type(None, bytes, what="put_and_get(...)")


def test_check_close_reports_tolerance_and_gap():
    check_close(0.1 + 0.2, 0.3)
    check_close(101, 100, rtol=0.02)
    with pytest.raises(AssertionError, match=r"p99 should be 10\.0 \(within 0\.1\), but it is 11\.0 \(off by 1\)"):
        check_close(11.0, 10.0, rtol=0.01, what="p99")
    with pytest.raises(AssertionError, match="should be a number close to 1"):
        check_close("fast", 1.0)
    with pytest.raises(AssertionError):
        check_close(float("nan"), 1.0)


def test_check_columns_lists_missing_and_unexpected():
    df = pd.DataFrame({"user_id": [1], "clicks": [2], "tmp": [0]})
    check_columns(df, ["clicks", "user_id"])
    with pytest.raises(AssertionError) as info:
        check_columns(df, ["user_id", "clicks", "purchases"], what="features", exact=True)
    text = str(info.value)
    assert (
        "missing ['purchases']" in text and "unexpected ['tmp']" in text and text.startswith("Check failed: features")
    )
    with pytest.raises(AssertionError, match="should be a DataFrame"):
        check_columns([1, 2], ["a"])


def test_check_len():
    check_len([1, 2], 2)
    with pytest.raises(AssertionError, match="the rows should hold 3 items, but it holds 2"):
        check_len([1, 2], 3, what="the rows")
    with pytest.raises(AssertionError, match="which has no length"):
        check_len(5, 1)


def test_check_frame_equal_ignores_order_but_not_values():
    expected = pd.DataFrame({"k": [1, 2], "v": [10.0, 20.0]})
    check_frame_equal(expected.iloc[::-1][["v", "k"]], expected)
    with pytest.raises(AssertionError, match="should have 2 rows, but it has 1"):
        check_frame_equal(expected.head(1), expected)
    with pytest.raises(AssertionError, match=r"different values: .*v"):
        check_frame_equal(expected.assign(v=[10.0, 21.0]), expected, what="the joined table")
    with pytest.raises(AssertionError, match="should be a pandas DataFrame"):
        check_frame_equal({"k": [1]}, expected)
