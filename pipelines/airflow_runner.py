"""Run the Airflow DAG for real from the lab's main Python: ``airflow dags test`` in .venv-airflow.

Airflow lives in its own virtualenv (created by ``make airflow``, which ``make setup`` runs);
this module only builds its environment (AIRFLOW_HOME under LAB_HOME, the DAG folder, no examples,
no telemetry), migrates its SQLite metadata database once, runs ``dags test`` in a subprocess and
reads the outcome of every task back from that database.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from labkit.settings import REPO_ROOT, Settings, get_settings

DAG_ID = "user_features_daily"
VENV = REPO_ROOT / ".venv-airflow"
DAGS_FOLDER = REPO_ROOT / "pipelines" / "dags"
HOW_TO_INSTALL = "make airflow"


def airflow_bin() -> Path:
    return VENV / "bin" / "airflow"


def airflow_available() -> bool:
    return airflow_bin().exists()


def airflow_home(settings: Settings | None = None) -> Path:
    return (settings or get_settings()).home / "airflow"


def airflow_env(settings: Settings | None = None, retry_delay_s: float | None = None) -> dict[str, str]:
    s = settings or get_settings()
    home = airflow_home(s)
    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__USAGE_DATA_COLLECTION__ENABLED": "False",
            "SCARF_ANALYTICS": "false",
            "DO_NOT_TRACK": "1",
            "NO_COLOR": "1",
            # the DAG's tasks run the steps with these settings (the DAG file reads LAB_AIRFLOW_RETRY_DELAY_S
            # and LAB_PIPELINE_PYTHON from here: it runs in Airflow's virtualenv, without labkit)
            **s.child_env(),
            "LAB_REPO": str(REPO_ROOT),
        }
    )
    if not env["LAB_PIPELINE_PYTHON"]:
        env.pop("LAB_PIPELINE_PYTHON")  # the DAG's default: the repository's .venv
    if retry_delay_s is not None:
        env["LAB_AIRFLOW_RETRY_DELAY_S"] = str(retry_delay_s)
    # The airflow venv must not see the main venv's packages.
    env.pop("VIRTUAL_ENV", None)
    env.pop("PYTHONPATH", None)
    return env


def _require() -> None:
    if not airflow_available():
        raise FileNotFoundError(f"Airflow is not installed in {VENV}. Create it with: {HOW_TO_INSTALL}")


def ensure_db(settings: Settings | None = None) -> Path:
    """``airflow db migrate`` once per AIRFLOW_HOME (a stamp file remembers it)."""
    _require()
    home = airflow_home(settings)
    home.mkdir(parents=True, exist_ok=True)
    stamp = home / ".migrated"
    if not stamp.exists() or not (home / "airflow.db").exists():
        r = subprocess.run(
            [str(airflow_bin()), "db", "migrate"],
            env=airflow_env(settings),
            capture_output=True,
            text=True,
            timeout=600,
        )
        if r.returncode != 0:
            raise RuntimeError(f"`airflow db migrate` failed (exit {r.returncode}):\n{r.stderr[-3000:]}")
        stamp.touch()
    return home / "airflow.db"


@dataclass
class DagTestResult:
    logical_date: str
    returncode: int
    run_id: str | None
    state: str | None
    tasks: dict[str, dict] = field(default_factory=dict)  # task_id -> {"state", "try_number"}
    seconds: float = 0.0
    log_path: Path | None = None

    @property
    def succeeded(self) -> bool:
        return self.state == "success"

    def table(self) -> list[dict]:
        return [{"task": t, **v} for t, v in self.tasks.items()]


def _task_states(db: Path, run_id: str) -> dict[str, dict]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = con.execute(
            "SELECT task_id, state, try_number FROM task_instance WHERE dag_id = ? AND run_id = ?", (DAG_ID, run_id)
        ).fetchall()
    finally:
        con.close()
    return {t: {"state": s, "try_number": n} for t, s, n in rows}


def dags_test(
    logical_date: str, settings: Settings | None = None, retry_delay_s: float = 1.0, timeout_s: float = 1200
) -> DagTestResult:
    """Run ``airflow dags test user_features_daily <logical_date>``: one real DAG run, in order,
    with retries, in this machine's processes (no scheduler). The run builds the day BEFORE the
    logical date, as the 02:00 schedule does."""
    s = settings or get_settings()
    db = ensure_db(s)
    log = airflow_home(s) / f"dags-test-{logical_date}.log"
    t0 = time.perf_counter()
    with log.open("w") as fh:
        r = subprocess.run(
            [str(airflow_bin()), "dags", "test", DAG_ID, logical_date],
            env=airflow_env(s, retry_delay_s),
            stdout=fh,
            stderr=subprocess.STDOUT,
            timeout=timeout_s,
            cwd=str(REPO_ROOT),
        )
    text = re.sub(r"\x1b\[[0-9;]*m", "", log.read_text(errors="replace"))  # drop terminal colours
    m = re.findall(r"DagRun Finished: dag_id=\S+, logical_date=.*?, run_id=([^,]+),.*?state=(\w+)", text)
    run_id, state = m[-1] if m else (None, None)
    tasks = _task_states(db, run_id) if run_id else {}
    return DagTestResult(logical_date, r.returncode, run_id, state, tasks, time.perf_counter() - t0, log)
