#!/usr/bin/env bash
# Create .venv-airflow from requirements-airflow.lock (Airflow 3.3, Python 3.11).
# Airflow only schedules here: its DAG's tasks run the lab's pipeline steps with .venv/bin/python,
# so the heavy stack (pyspark, deltalake, Great Expectations, Feast) is installed once, in .venv.
# Idempotent: a stamp derived from the lock file skips the install when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv-airflow
LOCK=requirements-airflow.lock
PY=${AIRFLOW_PYTHON:-}
if [[ -z "$PY" ]]; then
  for cand in python3.11 "$(command -v python3 || true)"; do
    if [[ -n "$cand" ]] && command -v "$cand" >/dev/null && "$cand" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
      PY=$cand; break
    fi
  done
fi
if [[ -z "$PY" ]]; then
  echo "setup-airflow-venv: no Python 3.11 found; install it or set AIRFLOW_PYTHON=/path/to/python3.11" >&2
  exit 1
fi
STAMP="$VENV/.installed-$(cksum < "$LOCK" | cut -d' ' -f1)"
if [[ -f "$STAMP" ]]; then
  echo "$VENV is up to date"; exit 0
fi
UV=${UV:-}
if [[ -z "$UV" ]]; then
  if [[ -x .venv/bin/uv ]]; then UV=.venv/bin/uv; elif command -v uv >/dev/null; then UV=$(command -v uv); fi
fi
test -x "$VENV/bin/python" || "$PY" -m venv "$VENV"
if [[ -n "$UV" ]]; then
  "$UV" pip sync --quiet --python "$VENV/bin/python" --require-hashes "$LOCK"
else
  "$VENV/bin/python" -m pip install --quiet --require-hashes --no-deps -r "$LOCK"
fi
rm -f "$VENV"/.installed-* && touch "$STAMP"
echo "Airflow ready in $VENV ($("$VENV/bin/python" -c 'import airflow; print(airflow.__version__)'))"
