"""The keyed-state step (running purchase totals, duplicate filter) on an in-memory state."""

from streaming import keys
from streaming.processor import user_step


class DictState:
    def __init__(self):
        self.d = {}

    def get(self, k, default=None):
        return self.d.get(k, default)

    def set(self, k, v):
        self.d[k] = v


def ev(i, kind="purchase", ts=1_000, amount=10.0):
    return {"event_id": f"e{i}", "user_id": 1, "event_type": kind, "ts_ms": ts, "amount": amount}


def test_purchases_accumulate_and_other_events_only_move_the_clock():
    st = DictState()
    assert user_step(ev(1, amount=5.5), st)[keys.PURCHASE_COUNT] == 1
    u = user_step(ev(2, "view", ts=9_000), st)
    assert (u[keys.PURCHASE_COUNT], u[keys.PURCHASE_AMOUNT], u[keys.LAST_EVENT_TS], u["_changed"]) == (
        1,
        5.5,
        9_000,
        False,
    )
    u = user_step(ev(3, amount=4.5, ts=2_000), st)  # out of order: counted, clock stays at the newest
    assert (u[keys.PURCHASE_COUNT], u[keys.PURCHASE_AMOUNT], u[keys.LAST_EVENT_TS]) == (2, 10.0, 9_000)


def test_a_repeated_event_id_is_dropped_without_touching_the_totals():
    st = DictState()
    user_step(ev(1), st)
    assert user_step(ev(1), st) is None
    assert st.get("user")["purchase_count"] == 1


def test_old_ids_are_forgotten_beyond_the_horizon_so_state_stays_small():
    st = DictState()
    for i in range(500):
        user_step(ev(i, "view", ts=i * 60_000), st, dedupe_horizon_ms=30 * 60_000)
    assert len(st.get("user")["seen"]) <= 64 + 31
