"""Stack tests: the whole pipeline under Prefect and under Airflow (for real, in .venv-airflow).

Both orchestrators run the same step functions; each test proves one promise of the issue:
a transient failure is retried and the run succeeds, the injected bad batch stops the run
before anything is published or materialized, and re-running days never duplicates rows.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess

import pytest

pytestmark = [pytest.mark.stack, pytest.mark.slow]


def bad_day(small_world) -> dt.date:
    return dt.date.fromisoformat(small_world.ground_truth["bad_batch"]["date"])


@pytest.fixture(scope="module")
def flows(lab_settings, raw_lake, spark):
    from pipelines.prefect_flow import build_flows

    return build_flows(lab_settings, retry_delay_s=0.2)


def test_prefect_retries_a_transient_failure_and_materializes(flows, lab_settings, small_world):
    from feature_repo import get_store, reset_online_state
    from pipelines.faults import _marker, inject_transient_failure
    from pipelines.feature_table import read_day

    daily, _ = flows
    day = small_world.config.start + dt.timedelta(days=12)
    # The test stack is shared: other tests may have put LATER days online, and Feast's Redis
    # store never replaces a newer row with an older one. Start from an empty online store.
    reset_online_state(get_store(lab_settings), lab_settings)
    marker = inject_transient_failure("compute", day, settings=lab_settings)
    state = daily(day.isoformat(), return_state=True)
    assert state.is_completed(), state.message
    assert not marker.exists() and not _marker("compute", day, lab_settings).exists(), "the injected failure fired"
    steps = [r["step"] for r in state.result()]
    assert steps == ["extract", "validate_input", "compute", "validate_features", "publish", "materialize"]
    published = read_day(day, lab_settings)
    assert len(published) > 100
    # what the online store serves now is what the Delta table holds for that day
    row = published.sort_values("purchases_30d").iloc[-1]
    online = (
        get_store(lab_settings)
        .get_online_features(
            features=["user_stats:purchases_30d", "user_stats:purchase_amount_7d"],
            entity_rows=[{"user_id": int(row.user_id)}],
        )
        .to_dict()
    )
    assert online["purchases_30d"] == [int(row.purchases_30d)]
    assert online["purchase_amount_7d"][0] == pytest.approx(row.purchase_amount_7d)


def test_prefect_blocks_the_bad_batch_before_publishing(flows, lab_settings, small_world):
    from pipelines.feature_table import rows_per_day
    from pipelines.steps import work_dir

    daily, _ = flows
    day = bad_day(small_world)
    state = daily(day.isoformat(), return_state=True)
    assert state.is_failed(), "the bad batch must fail the run"
    assert (
        "price" in (state.message or "") or "price" in (work_dir(day, lab_settings) / "validate_input.json").read_text()
    )
    assert day.isoformat() not in rows_per_day(lab_settings), "nothing of the bad day may reach the feature table"
    assert not (work_dir(day, lab_settings) / "features.parquet").exists(), "features were computed from bad data"


def test_prefect_backfill_twice_is_idempotent(flows, lab_settings, small_world):
    from pipelines.feature_table import rows_per_day

    _, backfill = flows
    start = small_world.config.start + dt.timedelta(days=20)
    end = start + dt.timedelta(days=1)
    first = backfill(start.isoformat(), end.isoformat())
    assert set(first.values()) == {"COMPLETED"}, first
    counts = rows_per_day(lab_settings)
    second = backfill(start.isoformat(), end.isoformat())
    assert set(second.values()) == {"COMPLETED"}, second
    again = rows_per_day(lab_settings)
    assert again == counts, "a re-run replaced rows, it must not add any"
    assert again[start.isoformat()] > 100 and again[end.isoformat()] > 100


# -- Airflow, for real ------------------------------------------------------------------------------
def airflow_required():
    from pipelines.airflow_runner import HOW_TO_INSTALL, airflow_available

    if not airflow_available():
        pytest.fail(f".venv-airflow is missing: the Airflow DAG test cannot run. Create it with: {HOW_TO_INSTALL}")


def test_airflow_dag_definition():
    from pipelines.airflow_runner import DAGS_FOLDER, VENV

    airflow_required()
    dag_file = str(DAGS_FOLDER / "user_features_daily.py")
    code = (
        "import json, runpy\n"
        f"d = runpy.run_path({dag_file!r})['dag']\n"
        "print(json.dumps({'schedule': d.schedule, 'catchup': d.catchup,"
        " 'tasks': sorted(d.task_ids), 'retries': {t.task_id: t.retries for t in d.tasks},"
        " 'upstream': {t.task_id: sorted(t.upstream_task_ids) for t in d.tasks}}))"
    )
    r = subprocess.run([str(VENV / "bin" / "python"), "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    info = json.loads(r.stdout.strip().splitlines()[-1])
    assert info["schedule"] == "0 2 * * *" and info["catchup"] is False
    assert info["upstream"]["materialize"] == ["publish"] and info["upstream"]["publish"] == ["validate_features"]
    assert info["upstream"]["compute"] == ["validate_input"], "nothing is computed from an unvalidated batch"
    assert info["retries"]["compute"] >= 1 and info["retries"]["validate_input"] == 0


def test_airflow_dags_test_retries_then_succeeds(lab_settings, raw_lake, small_world):
    from pipelines.airflow_runner import dags_test
    from pipelines.faults import inject_transient_failure
    from pipelines.feature_table import rows_per_day

    airflow_required()
    day = small_world.config.start + dt.timedelta(days=8)
    inject_transient_failure("compute", day, settings=lab_settings)
    result = dags_test((day + dt.timedelta(days=1)).isoformat(), lab_settings, retry_delay_s=1)
    assert result.succeeded, f"DAG run {result.state}: {result.table()} (log: {result.log_path})"
    assert result.returncode == 0
    assert result.tasks["compute"]["try_number"] == 2, "compute failed once, then its retry succeeded"
    assert all(t["state"] == "success" for t in result.tasks.values()), result.table()
    assert rows_per_day(lab_settings)[day.isoformat()] > 100


def test_airflow_dags_test_stops_the_bad_batch(lab_settings, raw_lake, small_world):
    from pipelines.airflow_runner import dags_test
    from pipelines.feature_table import rows_per_day

    airflow_required()
    day = bad_day(small_world)
    result = dags_test((day + dt.timedelta(days=1)).isoformat(), lab_settings, retry_delay_s=1)
    assert result.state == "failed" and result.returncode != 0
    assert result.tasks["validate_input"] == {"state": "failed", "try_number": 1}, "validation is never retried"
    for t in ("compute", "publish", "materialize"):
        assert result.tasks[t]["state"] == "upstream_failed", result.table()
    assert day.isoformat() not in rows_per_day(lab_settings)
    assert "expect_column_values_to_be_between(price" in result.log_path.read_text()
