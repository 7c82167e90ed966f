"""Validation of incoming records: what reaches the features, what goes to the dead-letter topic."""

import json

import pytest

from streaming.events import is_bad, parse_event, to_epoch_ms

GOOD = {
    "event_id": "e1",
    "user_id": 7,
    "product_id": 3,
    "session_id": "s1",
    "event_type": "purchase",
    "event_ts": "2026-01-05T10:00:00.250Z",
    "category": "books",
    "price": 12.5,
    "quantity": 2,
    "amount": 25.0,
    "device": "mobile",
}


def test_a_valid_event_is_kept_with_its_event_time_in_ms():
    ev = parse_event(json.dumps(GOOD).encode())
    assert not is_bad(ev)
    assert ev["ts_ms"] == to_epoch_ms("2026-01-05T10:00:00.250+00:00") == 1767607200250


@pytest.mark.parametrize(
    "change, reason",
    [
        ({"user_id": "user-7"}, "wrong_type: user_id"),
        ({"user_id": True}, "wrong_type: user_id"),
        ({"price": "12,50"}, "wrong_type: price"),
        ({"price": -3.0}, "bad_value: price"),
        ({"price": 999_999.99}, "bad_value: price"),
        ({"price": None}, "missing_field: price"),
        ({"product_id": None}, "missing_field: product_id"),
        ({"event_ts": 1767607200}, "wrong_type: event_ts"),
        ({"event_ts": "yesterday"}, "bad_timestamp"),
        ({"event_type": "hover"}, "bad_value: event_type"),
        ({"amount": "lots"}, "wrong_type: a purchase needs a numeric amount"),
    ],
)
def test_each_kind_of_bad_record_gets_a_specific_reason(change, reason):
    ev = parse_event(json.dumps({**GOOD, **change}).encode())
    assert is_bad(ev) and ev["_error"].startswith(reason), ev


def test_missing_fields_are_all_named():
    rec = {k: v for k, v in GOOD.items() if k not in ("user_id", "event_ts")}
    assert parse_event(json.dumps(rec)).get("_error") == "missing_field: user_id, event_ts"


@pytest.mark.parametrize("raw", [b'{"event_id": "e1", "user_', b"\xff\xfe", b"[1, 2]", None, b"42"])
def test_undecodable_records_are_bad_not_crashes(raw):
    ev = parse_event(raw)
    assert is_bad(ev) and ev["_error"].split(":")[0] in ("bad_json", "not_an_object", "empty")


def test_world_malformed_records_are_all_rejected_and_clean_rows_all_accepted(small_world):
    from data_generators.traps import event_record

    assert all(is_bad(parse_event(m)) for m in small_world.malformed)
    sample = small_world.events.sample(2000, random_state=1)
    bad = [r for r in sample.to_dict("records") if is_bad(parse_event(json.dumps(event_record(r))))]
    assert bad == [], bad[:3]
