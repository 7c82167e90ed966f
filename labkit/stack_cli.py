"""`labkit up|down|status|doctor|reset|jupyter|env`: the stack's command line.

Each ``cmd_*`` takes the argument list after the subcommand and returns an exit code; errors are
reported by :func:`labkit.cli_support.command`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time

from labkit.cli_support import EXIT_FAILED, CommandError, command, parser
from labkit.settings import REPO_ROOT, Settings, get_settings

JUPYTER_CONFIG = REPO_ROOT / "jupyter"  # the lab's Jupyter configuration (jupyter/README.md)


def _parser(prog: str, description: str) -> argparse.ArgumentParser:
    return parser(f"labkit {prog}", description)


def _table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=True)]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()  # noqa: E731
    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows])


def _stack_kind(s: Settings) -> str:
    """Which stack to drive: the one already running from this LAB_HOME, else LAB_STACK, else detect."""
    from labkit.stack import docker, embedded, stack_kind

    if s.stack != "auto":
        return s.stack
    if stack_kind(s, default="") == "embedded" and embedded.any_running(s):
        return "embedded"
    if docker.COMPOSE_FILE.is_file() and docker.engine_answers() and docker.compose_available():
        return "docker"
    return "embedded"


def _print_status(rows) -> None:
    print(
        _table(
            ["service", "endpoint", "pid", "answers?", "detail"],
            [[r.service, r.endpoint, r.pid, "yes" if r.answers else "NO", r.detail] for r in rows],
        )
    )


# -- up ----------------------------------------------------------------------------------
@command("labkit up")
def cmd_up(argv: list[str]) -> int:
    p = _parser(
        "up",
        "Start Kafka, Redis and S3 (Docker Compose if a Docker engine answers, else embedded "
        "servers) and wait until each answers its protocol. Running servers are left alone.",
    )
    p.add_argument("--timeout", type=float, default=90.0, help="seconds to wait for each service (default 90)")
    args = p.parse_args(argv)
    s = get_settings()
    kind = _stack_kind(s)
    t0 = time.monotonic()
    print(f"labkit up: {kind} stack, LAB_HOME={s.home}, port offset {s.port_offset}")
    if kind == "docker":
        return _docker_up(s, args.timeout)
    from labkit.stack import embedded

    rows = embedded.up(s, timeout=args.timeout)  # a StackError is one line from @command
    print()
    _print_status(rows)
    healthy = all(r.answers for r in rows)
    if healthy:
        print(f"\nS3 admin UI (SeaweedFS): {s.url('s3_console')}   S3 credentials: `labkit env`")
    print(
        f"\n{'ready' if healthy else 'NOT ready'} in {time.monotonic() - t0:.1f} s. "
        f"Stop with `labkit down` (data is kept)."
    )
    return 0 if healthy else 1


def _docker_up(s: Settings, timeout: float) -> int:
    from labkit.stack import docker, embedded, probes

    if not docker.engine_answers():
        raise CommandError(
            "LAB_STACK=docker but no Docker engine answers `docker info`. Fix: start Docker "
            "(Docker Desktop / `sudo systemctl start docker`) or use LAB_STACK=embedded.",
            EXIT_FAILED,
        )
    if not docker.compose_available():
        raise CommandError(
            "the Docker engine answers but `docker compose` (Compose v2) is missing. Fix: install "
            "the docker-compose-plugin package (or Docker Desktop), or use LAB_STACK=embedded.",
            EXIT_FAILED,
        )
    for d in (s.run_dir, s.log_dir, s.data_dir):
        d.mkdir(parents=True, exist_ok=True)
    embedded.stack_marker(s).write_text("docker\n")
    try:
        done = docker.compose(s, "up", "-d", "--wait", "--wait-timeout", str(int(timeout)))
    except FileNotFoundError as exc:
        raise CommandError(str(exc), EXIT_FAILED) from None
    if done.returncode != 0:
        print(
            "labkit up: `docker compose up` failed (see above). `docker compose logs` shows each "
            "container's log; `labkit doctor` checks ports.",
            file=sys.stderr,
        )
        return done.returncode
    for name, probe in probes.PROBES.items():
        ok, detail = probes.wait_until(lambda probe=probe: probe(s), timeout)
        if not ok:
            raise CommandError(f"{name} does not answer: {detail}", EXIT_FAILED)
    embedded.ensure_buckets(s)
    rows = _docker_rows(s)
    _print_status(rows)
    return 0 if all(r.answers for r in rows) else 1


def _docker_rows(s: Settings):
    from labkit.stack import docker, embedded, probes

    states = docker.running_services(s)
    rows = []
    for server in embedded.SERVERS:
        ok, detail = probes.PROBES[server.name](s)
        state = (
            ", ".join(
                f"{k}:{v}"
                for k, v in states.items()
                if server.name in k or (server.name == "s3" and ("minio" in k or "seaweed" in k))
            )
            or "docker"
        )
        rows.append(embedded.Row(server.title.split(" (")[0], server.endpoint(s), state, ok, detail))
    return rows


# -- down --------------------------------------------------------------------------------
@command("labkit down")
def cmd_down(argv: list[str]) -> int:
    p = _parser("down", "Stop the stack started from this LAB_HOME (by pid; data is kept).")
    p.parse_args(argv)
    s = get_settings()
    from labkit.stack import docker, embedded, stack_kind

    kind = stack_kind(s, default="")
    t0 = time.monotonic()
    if kind == "docker":
        try:
            done = docker.compose(s, "down")
        except FileNotFoundError as exc:
            raise CommandError(str(exc), EXIT_FAILED) from None
        if done.returncode != 0:
            return done.returncode
    stopped = embedded.down(s)
    if kind != "docker" and not stopped:
        print("  nothing was running from this LAB_HOME")
    kept = "in the Compose project's named volumes" if kind == "docker" else f"under {s.data_dir}"
    print(f"down in {time.monotonic() - t0:.1f} s; data kept {kept}")
    return 0


# -- status ------------------------------------------------------------------------------
@command("labkit status")
def cmd_status(argv: list[str]) -> int:
    p = _parser(
        "status",
        "What runs where, and whether each service answers its protocol. Exit code 1 when a service does not answer.",
    )
    p.parse_args(argv)
    s = get_settings()
    from labkit.stack import embedded, stack_kind

    kind = stack_kind(s)
    rows = _docker_rows(s) if kind == "docker" else embedded.status(s)
    print(f"{kind} stack, LAB_HOME={s.home}, port offset {s.port_offset}\n")
    _print_status(rows)
    down = [r.service for r in rows if not r.answers]
    if down:
        print(f"\nnot answering: {', '.join(down)}. Fix: `labkit up` (re)starts what is down; logs are in {s.log_dir}")
        return 1
    return 0


# -- env ---------------------------------------------------------------------------------
@command("labkit env")
def cmd_env(argv: list[str]) -> int:
    p = _parser("env", "Print the settings in use (secrets masked).")
    p.parse_args(argv)
    s = get_settings()
    print(_table(["setting", "value"], [list(r) for r in s.as_table()]))
    return 0


# -- doctor ------------------------------------------------------------------------------
@command("labkit doctor")
def cmd_doctor(argv: list[str]) -> int:
    p = _parser("doctor", "Check Java, binaries, ports, Docker, disk and memory; print a fix for each problem.")
    p.parse_args(argv)
    s = get_settings()
    from labkit.stack import doctor

    checks = doctor.run_checks(s)
    clip = lambda text: text if len(text) <= 110 else text[:107] + "..."  # noqa: E731 (full text below)
    print(
        _table(
            ["check", "ok?", "detail"],
            [[c.name, "ok" if c.ok else ("note" if c.warn_only else "PROBLEM"), clip(c.detail)] for c in checks],
        )
    )
    problems = [c for c in checks if not c.ok and not c.warn_only]
    notes = [c for c in checks if not c.ok and c.warn_only]
    for c in problems + notes:
        print(f"\n{'PROBLEM' if not c.warn_only else 'note'}: {c.name}: {c.detail}\n  fix: {c.fix}")
    print(f"\n{len(problems)} problem(s), {len(notes)} note(s)")
    return 1 if problems else 0


# -- reset -------------------------------------------------------------------------------
def _unsafe_to_wipe(home) -> str | None:
    """Why wiping ``home`` would be a disaster (a mistyped LAB_HOME), or None when it is lab state."""
    from pathlib import Path

    home = Path(home).resolve()
    if home == Path(home.anchor) or home == Path.home().resolve():
        return "it is the root or your home directory"
    if home == REPO_ROOT or home in REPO_ROOT.parents:
        return "it is the repository or a folder above it"
    if (home / ".git").exists():
        return "it holds a git repository"
    if home.is_dir():
        entries = {p.name for p in home.iterdir()}
        lab_like = {"run", "data", "logs", "results.jsonl"}
        if entries and not entries & lab_like:
            return "it does not look like a lab state directory (no run/, data/, logs/ or results.jsonl)"
    return None


@command("labkit reset")
def cmd_reset(argv: list[str]) -> int:
    p = _parser(
        "reset",
        "Stop the stack and wipe everything under LAB_HOME (data, logs, results); "
        "installs (.venv, system packages) are kept.",
    )
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    args = p.parse_args(argv)
    s = get_settings()
    unsafe = _unsafe_to_wipe(s.home)
    if unsafe:
        raise CommandError(
            f"refusing to wipe LAB_HOME={s.home}: {unsafe}. Point LAB_HOME at the lab's own "
            "state directory (default: .lab/ in the repository)."
        )
    if not args.yes:
        if not sys.stdin.isatty():
            raise CommandError(
                f"this deletes everything under {s.home}. Not a terminal, so I cannot ask: "
                "re-run with `labkit reset --yes` to confirm."
            )
        answer = input(f"Delete all lab data under {s.home} (topics, objects, keys, results)? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("reset cancelled; nothing was deleted")
            return 1
    from labkit.stack import docker, embedded, stack_kind

    if stack_kind(s) == "docker":
        try:
            docker.compose(s, "down", "-v")
        except FileNotFoundError as exc:
            print(f"labkit reset: {exc}", file=sys.stderr)
    embedded.down(s)
    still = [srv.name for srv in embedded.SERVERS if embedded.running_pid(s, srv)]
    if still:
        raise CommandError(f"{', '.join(still)} still running; not deleting data", EXIT_FAILED)
    if s.home.is_dir():
        for child in s.home.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
    s.home.mkdir(parents=True, exist_ok=True)
    print(f"reset: {s.home} is empty. `labkit up` starts a fresh stack.")
    return 0


# -- jupyter -----------------------------------------------------------------------------
def _jupyter_files(s: Settings):
    return s.run_dir / "jupyter.pid", s.log_dir / "jupyter.log", s.run_dir / "jupyter.token"


@command("labkit jupyter")
def cmd_jupyter(argv: list[str]) -> int:
    p = _parser("jupyter", "Start JupyterLab on the lab's host and port in the repository root.")
    p.add_argument("--background", action="store_true", help="run in the background (pid file and log under LAB_HOME)")
    p.add_argument("--stop", action="store_true", help="stop a background JupyterLab started by --background")
    args = p.parse_args(argv)
    s = get_settings()
    from labkit import processes
    from labkit.stack import probes

    pid_path, log_path, token_path = _jupyter_files(s)
    running = processes.adopt(
        pid_path, name="JupyterLab", log_path=log_path, match=lambda p: "jupyterlab" in " ".join(p.cmdline())
    )
    if args.stop:
        if running is not None:
            running.stop()
            print(f"JupyterLab stopped (pid {running.pid})")
        else:
            print("no background JupyterLab was running")
        return 0

    port = s.ports["jupyter"]
    if running is not None and token_path.is_file():
        print(
            f"JupyterLab already runs (pid {running.pid}): "
            f"{s.url('jupyter', '/lab?token=' + token_path.read_text().strip())}"
        )
        return 0
    holder = probes.port_holder(port, s.host)
    if holder:
        raise CommandError(
            f"{holder}. Fix: stop it, or choose another port with LAB_JUPYTER_PORT or LAB_PORT_OFFSET.", EXIT_FAILED
        )
    import secrets

    token = s.jupyter_token or secrets.token_hex(16)
    for d in (s.run_dir, s.log_dir):
        d.mkdir(parents=True, exist_ok=True)
    token_path.write_text(token + "\n")
    token_path.chmod(0o600)
    argv_j = [
        sys.executable,
        "-m",
        "jupyterlab",
        f"--ip={s.host}",
        f"--port={port}",
        "--port-retries=0",
        "--no-browser",
        f"--ServerApp.root_dir={REPO_ROOT}",
        f"--IdentityProvider.token={token}",
        # no nbgrader menus, no news prompt: see jupyter/README.md
        f"--LabApp.app_settings_dir={JUPYTER_CONFIG / 'lab-settings'}",
    ]
    jupyter_env = {
        "JUPYTER_CONFIG_PATH": os.pathsep.join(
            filter(None, [str(JUPYTER_CONFIG), os.environ.get("JUPYTER_CONFIG_PATH")])
        )
    }
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        argv_j.append("--allow-root")  # JupyterLab refuses root without it (containers, CI)
    url = s.url("jupyter", f"/lab?token={token}")
    if not args.background:
        print(f"JupyterLab: {url}\n(Ctrl+C twice stops it)", flush=True)
        proc = subprocess.Popen(argv_j, cwd=str(REPO_ROOT), env={**os.environ, **jupyter_env})
        while True:
            try:
                return proc.wait()
            except KeyboardInterrupt:  # the terminal sent it to Jupyter too; let it shut down cleanly
                continue
    proc = processes.start(
        argv_j, name="JupyterLab", log_path=log_path, pid_path=pid_path, cwd=REPO_ROOT, env=jupyter_env
    )
    status_url = f"http://{s.host if s.host != '0.0.0.0' else '127.0.0.1'}:{port}/api/status"

    def answers() -> tuple[bool, str]:  # the REST API with our token: the server is up and it is ours
        import httpx

        try:
            code = httpx.get(status_url, headers={"Authorization": f"token {token}"}, timeout=1.0).status_code
            return code == 200, f"{status_url} answered {code}"
        except httpx.HTTPError as exc:
            return False, f"no answer on {status_url} ({type(exc).__name__})"

    proc.wait_ready(answers, timeout=60, interval=0.3)  # a ProcessError is one line from @command
    print(f"JupyterLab (pid {proc.pid}, log {log_path}): {url}\nstop it with `labkit jupyter --stop`")
    return 0
