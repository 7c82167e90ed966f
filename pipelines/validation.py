"""Data tests with Great Expectations 1.x: a batch that breaks an expectation stops the run.

Two suites guard the pipeline: ``raw_events`` checks the day's input before any feature is
computed from it, and ``user_features`` checks the output before it is published. A failure
raises :class:`ValidationFailed`, whose message is a readable report (which expectation, which
column, what was observed, a few offending values), and the full result is kept as JSON.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

# GX sends anonymous usage events unless told not to; the lab never phones home.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
# GX logs an INFO line per context it creates; the lab's reports say what matters.
logging.getLogger("great_expectations").setLevel(logging.WARNING)


class ValidationFailed(RuntimeError):
    """A batch broke its expectations. ``report`` is the readable table, ``result`` the raw GX result."""

    def __init__(self, suite: str, label: str, failures: list[dict[str, Any]], result: Any = None):
        self.suite, self.label, self.failures, self.result = suite, label, failures, result
        super().__init__(self.report)

    @property
    def report(self) -> str:
        lines = [f"Validation FAILED: suite {self.suite!r} on {self.label}: {len(self.failures)} expectation(s) broken"]
        for f in self.failures:
            lines.append(f"  - {f['expectation']}({f['column']}, {f['bounds']}): {f['observed']}")
        lines.append(
            "The run stops here: nothing was published or materialized. Inspect the batch, fix or "
            "quarantine it, then re-run the day."
        )
        return "\n".join(lines)


@dataclass(frozen=True)
class RawBounds:
    """What a sane day of raw events looks like (calibrated on the clean synthetic world)."""

    price_min: float = 0.01
    price_max: float = 5_000.0
    amount_max: float = 50_000.0
    quantity_max: int = 100
    price_not_null_mostly: float = 0.95
    event_types: tuple[str, ...] = ("view", "click", "add_to_cart", "purchase")


@dataclass(frozen=True)
class FeatureBounds:
    count_max: int = 10_000
    amount_7d_max: float = 250_000.0
    avg_value_mean_min: float = 1.0
    avg_value_mean_max: float = 1_000.0
    ctr_max: float = 50.0  # clicks can follow a view in another session; a huge ratio is a bug
    counts: tuple[str, ...] = field(
        default=("purchases_1d", "purchases_7d", "purchases_30d", "views_1d", "clicks_1d", "add_to_cart_7d")
    )


def raw_events_expectations(b: RawBounds = RawBounds()) -> list:
    import great_expectations as gx

    E = gx.expectations
    return [
        E.ExpectColumnValuesToNotBeNull(column="event_id"),
        E.ExpectColumnValuesToNotBeNull(column="user_id"),
        E.ExpectColumnValuesToNotBeNull(column="event_ts"),
        E.ExpectColumnValuesToBeInSet(column="event_type", value_set=list(b.event_types)),
        E.ExpectColumnValuesToNotBeNull(column="price", mostly=b.price_not_null_mostly),
        E.ExpectColumnValuesToBeBetween(column="price", min_value=b.price_min, max_value=b.price_max),
        E.ExpectColumnValuesToBeBetween(column="amount", min_value=0.0, max_value=b.amount_max),
        E.ExpectColumnValuesToBeBetween(column="quantity", min_value=0, max_value=b.quantity_max),
    ]


def user_features_expectations(b: FeatureBounds = FeatureBounds()) -> list:
    import great_expectations as gx

    E = gx.expectations
    out = [
        E.ExpectColumnValuesToNotBeNull(column="user_id"),
        E.ExpectColumnValuesToNotBeNull(column="event_timestamp"),
        E.ExpectColumnValuesToBeUnique(column="user_id"),
        E.ExpectColumnValuesToBeBetween(column="purchase_amount_7d", min_value=0.0, max_value=b.amount_7d_max),
        E.ExpectColumnValuesToBeBetween(column="avg_purchase_value_30d", min_value=0.0),
        E.ExpectColumnMeanToBeBetween(
            column="avg_purchase_value_30d", min_value=b.avg_value_mean_min, max_value=b.avg_value_mean_max
        ),
        E.ExpectColumnValuesToBeBetween(column="ctr_7d", min_value=0.0, max_value=b.ctr_max),
        E.ExpectColumnValuesToBeBetween(column="days_since_last_purchase", min_value=0.0, max_value=31.0),
    ]
    out += [E.ExpectColumnValuesToBeBetween(column=c, min_value=0, max_value=b.count_max) for c in b.counts]
    return out


SUITES = {"raw_events": raw_events_expectations, "user_features": user_features_expectations}


def _context():
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    for name in ("great_expectations", "great_expectations.data_context.types.base"):
        logging.getLogger(name).setLevel(logging.WARNING)  # set per call: Prefect reconfigures logging
    ctx = gx.get_context(mode="ephemeral")  # in memory: no gx/ folder, no stores on disk
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    return ctx


def _describe(er) -> dict[str, Any]:
    cfg = er.expectation_config
    kw = {k: v for k, v in cfg.kwargs.items() if k not in ("batch_id", "column")}
    res = er.result or {}
    if "observed_value" in res:
        observed = f"observed {res['observed_value']!r}"
    elif "unexpected_count" in res:
        sample = res.get("partial_unexpected_list", [])[:5]
        observed = (
            f"{res['unexpected_count']} of {res.get('element_count')} rows unexpected "
            f"({res.get('unexpected_percent', 0):.2f}%), e.g. {sample}"
        )
    elif er.exception_info and er.exception_info.get("raised_exception"):
        observed = f"could not evaluate: {er.exception_info.get('exception_message')}"
    else:
        observed = json.dumps(res, default=str)[:200]
    return {"expectation": cfg.type, "column": cfg.kwargs.get("column"), "bounds": kw, "observed": observed}


def validate_frame(
    df: pd.DataFrame,
    suite: str,
    label: str,
    expectations: list | None = None,
    report_path: Path | None = None,
    raise_on_failure: bool = True,
) -> dict[str, Any]:
    """Validate ``df`` against a named suite (or explicit ``expectations``).

    Returns a summary dict ``{"success", "suite", "label", "evaluated", "failures"}``; with
    ``raise_on_failure`` a failed batch raises :class:`ValidationFailed` instead.
    """
    import great_expectations as gx

    if df.empty:
        raise ValidationFailed(
            suite,
            label,
            [
                {
                    "expectation": "non_empty_batch",
                    "column": None,
                    "bounds": {},
                    "observed": "the batch has no rows: is the day's partition missing?",
                }
            ],
        )
    if expectations is None:
        if suite not in SUITES:
            raise ValueError(f"unknown suite {suite!r}: use one of {sorted(SUITES)} or pass expectations=[...]")
        expectations = SUITES[suite]()
    ctx = _context()
    batch = (
        ctx.data_sources.add_pandas(f"{suite}_source")
        .add_dataframe_asset(suite)
        .add_batch_definition_whole_dataframe("whole")
        .get_batch(batch_parameters={"dataframe": df})
    )
    gx_suite = gx.ExpectationSuite(name=suite)
    for e in expectations:
        gx_suite.add_expectation(e)
    result = batch.validate(gx_suite)
    failures = [_describe(er) for er in result.results if not er.success]
    summary = {
        "success": bool(result.success),
        "suite": suite,
        "label": label,
        "evaluated": len(result.results),
        "failures": failures,
    }
    if report_path is not None:
        report_path.parent.mkdir(parents=True, exist_ok=True)
        report_path.write_text(json.dumps({**summary, "gx_result": result.to_json_dict()}, indent=2, default=str))
    if failures and raise_on_failure:
        raise ValidationFailed(suite, label, failures, result)
    return summary
