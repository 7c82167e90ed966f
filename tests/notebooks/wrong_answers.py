"""Plausible wrong answers a learner could write, one per entry, and the check message each must hit.

An exercise's checks must reject these, not only a missing answer: ``test_nb_wrong_answers.py`` puts
each wrong answer in place of the named solution region of ``solutions/<exercise>.ipynb`` (regions
count from 1, in notebook order), runs the notebook and expects a failed check whose message
contains ``expect``. Add an entry when you find an answer that should fail and does not.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WrongAnswer:
    exercise: str  # stem of solutions/<exercise>.ipynb
    region: int  # which ### BEGIN/END SOLUTION region it replaces (1 = the first)
    why: str  # the mistake, in a learner's words
    code: str  # what goes between the markers
    expect: str  # a fragment of the failed check's message


WRONG_ANSWERS: list[WrongAnswer] = [
    WrongAnswer(
        "01a_new_feature_view",
        1,
        "defines the view and the service but never registers them with store.apply",
        """
user_engagement = FeatureView(
    name="user_engagement", entities=[defs.user], ttl=timedelta(days=2),
    schema=[Field(name=n, dtype=Int64) for n in ("views_1d", "clicks_1d", "add_to_cart_7d")],
    source=defs.user_features_source, description="engagement", owner=OWNER, tags={"version": "1"},
)
engagement_v1 = FeatureService(name="engagement_v1",
                               features=[user_engagement, defs.product_features[["price", "rating"]]])
""",
        "no feature view called 'user_engagement' is in the registry",
    ),
    WrongAnswer(
        "09b_idempotent_redis_sink",
        1,
        "reads last_offset in Python, then writes: right on one thread, not one atomic step",
        """
def idempotent_write(records, prefix) -> int:
    applied = 0
    for rec in records:
        key = f"{prefix}{rec['user_id']}"
        last = r.hget(key, "last_offset")
        if last is not None and int(last) >= rec["offset"]:
            continue
        pipe = r.pipeline()
        pipe.hincrby(key, "purchase_count", 1)
        pipe.hincrbyfloat(key, "purchase_amount", rec["amount"])
        pipe.hset(key, "last_offset", rec["offset"])
        pipe.expire(key, 86400)
        pipe.execute()
        applied += 1
    return applied
""",
        "one atomic step",
    ),
]
