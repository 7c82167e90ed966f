"""The Kafka replay's records, without a broker: arrival order, keys, JSON form, malformed mix."""

from __future__ import annotations

import json

from data_generators.traps import REPLAY_FIELDS, event_record, event_records
from data_generators.writers import replay_records


def test_records_follow_arrival_order_with_user_keys(world):
    recs = list(replay_records(world))
    assert len(recs) == len(world.raw_events)
    ingest = [r[2] for r in recs]
    assert ingest == sorted(ingest)
    first = json.loads(recs[0][1])
    assert list(first) == REPLAY_FIELDS
    assert recs[0][0] == str(first["user_id"]).encode()
    assert first["event_ts"].endswith("Z") and "T" in first["event_ts"]
    ids = [json.loads(v)["event_id"] for _, v, _ in recs]
    assert ids == world.raw_events["event_id"].tolist()  # duplicates replayed twice, as they arrived


def test_nulls_become_json_null(world):
    nulls = set(world.ground_truth["nulls"]["event_ids"])
    wanted = {i.encode() for i in nulls}
    seen = [json.loads(v) for _, v, _ in replay_records(world) if v.split(b'"', 4)[3] in wanted]  # event_id comes first
    assert len(seen) == len(nulls)
    assert all(r["product_id"] is None or r["price"] is None for r in seen)


def test_malformed_are_spread_through_the_stream(world):
    recs = list(replay_records(world, include_malformed=True))
    bad_pos = [i for i, r in enumerate(recs) if r[0] is None]
    assert len(bad_pos) == len(world.malformed)
    assert [recs[i][1] for i in bad_pos] == world.malformed
    assert bad_pos[0] < len(recs) // 10 and bad_pos[-1] > len(recs) * 9 // 10  # not bunched at one end
    limited = list(replay_records(world, limit=1000, include_malformed=True))
    assert sum(r[0] is not None for r in limited) == 1000 and sum(r[0] is None for r in limited) >= 1


def test_vectorised_records_equal_the_row_function(world):
    raw = world.raw_events
    sample = raw[raw["product_id"].isna() | raw["price"].isna() | (raw.index % 97 == 0)]
    fast = event_records(sample)
    slow = [event_record(row) for row in sample.to_dict("records")]
    assert [json.dumps(a) for a in fast] == [json.dumps(b) for b in slow]
