"""The same drift numbers from Evidently 0.7, to check our hand-written statistics against.

Evidently 0.7 replaced the old ``evidently.report`` / ``metric_preset`` modules: a ``Report``
is built from metrics (``ValueDrift`` per column, or the ``DataDriftPreset``), run on
``Dataset`` objects (current first, reference second) and returns a snapshot whose ``dict()``
lists one value per metric.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd


def evidently_drift(
    reference: pd.DataFrame, current: pd.DataFrame, columns: Sequence[str], methods: Sequence[str] = ("psi", "ks")
) -> pd.DataFrame:
    """One row per (column, method) with Evidently's value (PSI value, or KS p-value)."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import ValueDrift

    columns = list(columns)
    definition = DataDefinition(numerical_columns=columns)
    report = Report([ValueDrift(column=c, method=m) for c in columns for m in methods])
    snapshot = report.run(
        Dataset.from_pandas(current[columns].reset_index(drop=True), data_definition=definition),
        Dataset.from_pandas(reference[columns].reset_index(drop=True), data_definition=definition),
    )
    rows = []
    for m in snapshot.dict()["metrics"]:
        cfg = m["config"]
        rows.append(
            {
                "feature": cfg["column"],
                "method": cfg["method"],
                "value": float(m["value"]),
                "threshold": cfg.get("threshold"),
            }
        )
    return pd.DataFrame(rows)


def evidently_html(reference: pd.DataFrame, current: pd.DataFrame, columns: Sequence[str], path) -> None:
    """Write Evidently's interactive drift report (DataDriftPreset) to an HTML file."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    columns = list(columns)
    definition = DataDefinition(numerical_columns=columns)
    snapshot = Report([DataDriftPreset(columns=columns)]).run(
        Dataset.from_pandas(current[columns].reset_index(drop=True), data_definition=definition),
        Dataset.from_pandas(reference[columns].reset_index(drop=True), data_definition=definition),
    )
    snapshot.save_html(str(path))
