"""User events on the wire: validation (what goes to the dead-letter topic and why) and encoding.

An event is a JSON object, keyed by ``user_id`` on Kafka (the world's replay format, see
``data_generators/SCHEMA.md``), with ``event_id`` (str), ``user_id`` (int), ``product_id`` (int),
``event_type`` (view | click | add_to_cart | purchase), ``event_ts`` (ISO-8601 string), a ``price``
with ``0 < price < 100000`` and, for purchases, a numeric ``amount``. Other fields ride along.

These are the rules of the world's clean table, so the stream keeps exactly the events the batch
pipeline keeps (the batch also drops repeated event ids; the processor does that in keyed state).

:func:`parse_event` never raises: a bad record comes back as ``{"_error": reason, "_raw": text}``
so the processor can route it to the dead-letter topic instead of crashing on it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

EVENT_TYPES = frozenset({"view", "click", "add_to_cart", "purchase"})
REQUIRED_FIELDS = ("event_id", "user_id", "product_id", "event_type", "event_ts", "price")
MAX_VALID_PRICE = 100_000.0
ERROR_FIELD = "_error"

try:  # orjson (a quixstreams dependency) decodes several times faster than the json module
    from orjson import loads as _loads
except ImportError:  # pragma: no cover
    _loads = json.loads
TS_FIELD = "ts_ms"  # added by parse_event: event time in epoch milliseconds


def to_epoch_ms(value: Any) -> int:
    """Event time as epoch milliseconds, from an ISO-8601 string, a datetime/Timestamp or a number.

    Numbers below 10^11 are taken as seconds, larger ones as milliseconds.
    Raises ValueError with the offending value when it cannot be read.
    """
    if isinstance(value, bool):
        raise ValueError(f"event_ts must be a timestamp, got the boolean {value!r}")
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise ValueError(f"event_ts must be finite, got {value!r}")
        return int(value * 1000) if abs(value) < 1e11 else int(value)
    if isinstance(value, str):
        text = value.strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"event_ts {value!r} is not an ISO-8601 timestamp") from None
    elif isinstance(value, datetime):  # also pandas.Timestamp
        dt = value
    else:
        raise ValueError(f"event_ts must be an ISO-8601 string or epoch number, got {type(value).__name__}")
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)  # the lab's convention: naive means UTC
    return int(dt.timestamp() * 1000)


def _bad(reason: str, raw: bytes | str | None) -> dict:
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", errors="replace")
    return {ERROR_FIELD: reason, "_raw": raw if raw is None else raw[:2000]}


def validate_event(obj: Any) -> str | None:
    """The reason this decoded object is not a valid event, or None when it is.

    On success the event time is stored in ``obj["ts_ms"]`` (epoch ms), parsed once here.
    """
    if not isinstance(obj, dict):
        return f"not_an_object: expected a JSON object, got {type(obj).__name__}"
    missing = [f for f in REQUIRED_FIELDS if obj.get(f) is None]
    if missing:
        return f"missing_field: {', '.join(missing)}"
    uid = obj["user_id"]
    if isinstance(uid, bool) or not isinstance(uid, int):
        return f"wrong_type: user_id must be an integer, got {type(uid).__name__} {uid!r}"
    if not isinstance(obj["event_id"], str):
        return f"wrong_type: event_id must be a string, got {type(obj['event_id']).__name__}"
    pid = obj["product_id"]
    if isinstance(pid, bool) or not isinstance(pid, int):
        return f"wrong_type: product_id must be an integer, got {type(pid).__name__} {pid!r}"
    price = obj["price"]
    if isinstance(price, bool) or not isinstance(price, (int, float)):
        return f"wrong_type: price must be a number, got {type(price).__name__} {price!r}"
    if not 0 < price < MAX_VALID_PRICE:
        return f"bad_value: price {price!r} is outside (0, {MAX_VALID_PRICE:.0f})"
    if not isinstance(obj["event_ts"], str):
        return (
            f"wrong_type: event_ts must be an ISO-8601 string, got {type(obj['event_ts']).__name__} {obj['event_ts']!r}"
        )
    if obj["event_type"] not in EVENT_TYPES:
        return f"bad_value: event_type {obj['event_type']!r} is not one of {sorted(EVENT_TYPES)}"
    if obj["event_type"] == "purchase":
        amount = obj.get("amount")
        if isinstance(amount, bool) or not isinstance(amount, (int, float)) or not math.isfinite(amount):
            return f"wrong_type: a purchase needs a numeric amount, got {amount!r}"
        if amount < 0:
            return f"bad_value: purchase amount {amount!r} is negative"
    try:
        obj[TS_FIELD] = to_epoch_ms(obj["event_ts"])
    except ValueError as exc:
        return f"bad_timestamp: {exc}"
    return None


def parse_event(raw: bytes | str | None) -> dict:
    """Decode and validate one record. Valid: the event plus ``ts_ms``. Invalid: ``{"_error", "_raw"}``."""
    if raw is None:
        return _bad("empty: the record has no value", raw)
    try:
        obj = _loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        return _bad(f"bad_json: {exc}", raw)
    reason = validate_event(obj)
    if reason:
        return _bad(reason, raw)
    return obj


def is_bad(value: dict) -> bool:
    return ERROR_FIELD in value


def encode_event(event: dict) -> tuple[bytes, bytes]:
    """(key, value) bytes for producing one event: key = user_id, value = JSON."""
    return str(event["user_id"]).encode(), json.dumps(event, default=_json_default).encode()


def _json_default(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.isoformat()
    if hasattr(v, "item"):  # numpy scalars
        return v.item()
    raise TypeError(f"cannot encode {type(v).__name__} as JSON")


def events_from_frame(df) -> Iterable[dict]:
    """Rows of a world events DataFrame as JSON-ready dicts (timestamps as ISO strings, NaN as null)."""
    cols = list(df.columns)
    for row in df.itertuples(index=False, name=None):
        out = {}
        for c, v in zip(cols, row, strict=True):
            if v is None or (isinstance(v, float) and math.isnan(v)):
                out[c] = None
            elif hasattr(v, "isoformat"):
                out[c] = None if str(v) == "NaT" else v.isoformat()
            elif hasattr(v, "item"):
                out[c] = v.item()
            else:
                out[c] = v
        yield out
