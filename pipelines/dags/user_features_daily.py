"""Airflow DAG: the lab's daily user-feature pipeline.

Airflow runs in its own virtualenv (``.venv-airflow``, see ``make airflow``) and only
*schedules*: each task runs one pipeline step with the lab's main Python
(``.venv/bin/python -m pipelines step <name> --date <day>``), so Spark, deltalake and Great
Expectations are installed once, and the DAG file imports nothing but Airflow. This is how
teams isolate job dependencies from the scheduler (the same idea as KubernetesPodOperator).

Schedule: 02:00 UTC every day, for the day that just ended (late events arrive up to two
hours after midnight). No catch-up: missed days are re-run on purpose, with a backfill.
Retries: storage-facing steps retry; validation never does (bad data stays bad).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG

REPO = Path(os.environ.get("LAB_REPO", Path(__file__).resolve().parents[2]))
PYTHON = os.environ.get("LAB_PIPELINE_PYTHON", str(REPO / ".venv" / "bin" / "python"))
RETRY_DELAY = timedelta(seconds=float(os.environ.get("LAB_AIRFLOW_RETRY_DELAY_S", "300")))
EXIT_VALIDATION = 3  # pipelines.cli: the data failed its expectations

# The feature day is the day before the run's logical date: the 02:00 run on the 21st builds the 20th.
FEATURE_DAY = "{{ macros.ds_add(ds, -1) }}"

with DAG(
    dag_id="user_features_daily",
    description="Daily user features: stage lake -> validate -> Spark -> validate -> Delta -> online store",
    schedule="0 2 * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args={"owner": "ml-platform", "retries": 2, "retry_delay": RETRY_DELAY},
    tags=["ml", "features", "mlinfra-lab"],
) as dag:

    def step(name: str, retries: int | None = None) -> BashOperator:
        kwargs = {} if retries is None else {"retries": retries}
        return BashOperator(
            task_id=name,
            bash_command=f'"{PYTHON}" -m pipelines step {name} --date {FEATURE_DAY}',
            cwd=str(REPO),
            # LAB_* (ports, home) come from the environment Airflow runs in; make the repo importable.
            env={"PYTHONPATH": str(REPO)},
            append_env=True,
            do_xcom_push=False,  # steps hand data over through storage, not XCom
            **kwargs,
        )

    extract = step("extract")
    validate_input = step("validate_input", retries=0)
    compute = step("compute")
    validate_features = step("validate_features", retries=0)
    publish = step("publish")
    materialize = step("materialize")

    extract >> validate_input >> compute >> validate_features >> publish >> materialize
