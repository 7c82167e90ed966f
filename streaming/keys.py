"""Where streaming features live in Redis: the contract between the stream processor (writer)
and the serving API / notebooks (readers). One place for the key layout and field names.

    features:user:<user_id>   a Redis hash, refreshed by the stream processor, with a TTL
"""

from __future__ import annotations

USER_KEY_PREFIX = "features:user:"
STREAM_FEATURE_TTL_S = 24 * 3600  # a user idle for a day drops out of the online store

# Hash fields (all stored as strings by Redis; parse with the types below)
PURCHASE_COUNT = "purchase_count"  # int: purchases seen so far (keyed state)
PURCHASE_AMOUNT = "purchase_amount"  # float: total purchase amount so far
CLICKS_1H = "clicks_1h"  # int: clicks in the last closed 1-hour window
LAST_EVENT_TS = "last_event_ts"  # int: event time (epoch ms) of the newest event applied
UPDATED_TS = "updated_ts"  # int: wall-clock (epoch ms) when the processor wrote the hash
# added by the stream processor (streaming/processor.py): which window clicks_1h covers, and the
# hopping variant (1-hour windows every 15 minutes) with its window
CLICKS_1H_START = "clicks_1h_start"  # int: epoch ms, start of the window clicks_1h counts
CLICKS_1H_END = "clicks_1h_end"  # int: epoch ms, end (exclusive) of that window
CLICKS_1H_HOP = "clicks_1h_hop"  # int: clicks in the last closed hopping 1-hour window
CLICKS_1H_HOP_START = "clicks_1h_hop_start"
CLICKS_1H_HOP_END = "clicks_1h_hop_end"

FIELD_TYPES = {
    PURCHASE_COUNT: int,
    PURCHASE_AMOUNT: float,
    CLICKS_1H: int,
    LAST_EVENT_TS: int,
    UPDATED_TS: int,
    CLICKS_1H_START: int,
    CLICKS_1H_END: int,
    CLICKS_1H_HOP: int,
    CLICKS_1H_HOP_START: int,
    CLICKS_1H_HOP_END: int,
}


def user_key(user_id: int | str, prefix: str = USER_KEY_PREFIX) -> str:
    """The Redis key of one user's streaming features."""
    return f"{prefix}{user_id}"


def parse_user_features(raw: dict) -> dict:
    """Decode a hash read with HGETALL (bytes or str) into typed values; unknown fields are kept as str."""
    out = {}
    for k, v in raw.items():
        k = k.decode() if isinstance(k, bytes) else k
        v = v.decode() if isinstance(v, bytes) else v
        cast = FIELD_TYPES.get(k)
        out[k] = cast(float(v)) if cast is int else cast(v) if cast else v
    return out
