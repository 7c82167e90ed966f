"""The lab's Docker Compose files, read the way `docker compose` reads them.

Two jobs:

* :func:`compose_env` turns resolved settings into the variables ``docker-compose.yml`` reads.
  Compose cannot add numbers, so it cannot apply ``LAB_PORT_OFFSET`` itself: whoever runs
  ``docker compose`` (``labkit up``) passes the per-service ports computed here, and the Docker
  stack lands on exactly the endpoints :func:`labkit.settings.load_settings` gives.
* :func:`load_compose` parses the files, substitutes ``${VAR:-default}`` like Compose does and
  merges the override file, so tests (and ``labkit doctor``) can check the files without a
  Docker engine.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from labkit.settings import REPO_ROOT, Settings

COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
SEAWEEDFS_OVERRIDE = REPO_ROOT / "docker-compose.seaweedfs.yml"
S3_BACKENDS = ("minio", "seaweedfs")
PROJECT = "mlinfra-lab"
# The settings docker-compose.yml reads (its other ${LAB_*} variables are image tags, read from .env).
COMPOSE_SETTINGS = (
    "LAB_KAFKA_PORT",
    "LAB_REDIS_PORT",
    "LAB_S3_PORT",
    "LAB_S3_CONSOLE_PORT",
    "LAB_S3_ACCESS_KEY",
    "LAB_S3_SECRET_KEY",
    "LAB_S3_REGION",
    "LAB_BUCKET_LAKE",
)


def compose_files(s3_backend: str = "minio") -> list[Path]:
    """The compose files for an S3 backend: ``minio`` (default) or ``seaweedfs``."""
    if s3_backend not in S3_BACKENDS:
        raise ValueError(f"S3 backend {s3_backend!r} is unknown: use one of {', '.join(S3_BACKENDS)}")
    return [COMPOSE_FILE] if s3_backend == "minio" else [COMPOSE_FILE, SEAWEEDFS_OVERRIDE]


def compose_env(settings: Settings) -> dict[str, str]:
    """Variables for ``docker compose`` so that the containers publish the settings' endpoints.

    The project name carries the port offset, so a second stack (the test stack) gets its own
    containers and volumes instead of taking over the learner's.
    """
    env = settings.child_env()  # the settings written out as their variables
    return {
        "COMPOSE_PROJECT_NAME": PROJECT if settings.port_offset == 0 else f"{PROJECT}-{settings.port_offset}",
        **{var: env[var] for var in COMPOSE_SETTINGS},
    }


# -- reading compose files without an engine ----------------------------------------------
_VAR = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:-|-|:\?|\?|:\+|\+)(?P<arg>[^}]*))?\}"
    r"|(?P<named>[A-Za-z_][A-Za-z0-9_]*))"
)


def interpolate(text: str, env: dict[str, str]) -> str:
    """Substitute variables in one string as Compose does (``$$`` is a literal ``$``)."""

    def sub(m: re.Match) -> str:
        if m.group("escaped"):
            return "$"
        name = m.group("braced") or m.group("named")
        op, arg = m.group("op"), m.group("arg") or ""
        value = env.get(name)
        if op == ":-":
            return value if value else arg
        if op == "-":
            return value if value is not None else arg
        if op in (":?", "?"):
            if (op == ":?" and not value) or value is None:
                raise ValueError(f"compose needs {name}: {arg or 'it is not set'}")
            return value
        if op == ":+":
            return arg if value else ""
        if op == "+":
            return arg if value is not None else ""
        return value or ""

    return _VAR.sub(sub, text)


def _interpolate_tree(node: Any, env: dict[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [_interpolate_tree(x, env) for x in node]
    if isinstance(node, dict):
        return {k: _interpolate_tree(v, env) for k, v in node.items()}
    return node


def _volume_target(spec: Any) -> str:
    return spec["target"] if isinstance(spec, dict) else str(spec).split(":")[1]


def _merge_service(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Merge one service the way Compose merges an override file (for the keys the lab uses)."""
    out = dict(base)
    for key, value in over.items():
        if key in ("environment", "depends_on", "healthcheck", "labels"):
            out[key] = {**base.get(key, {}), **value}
        elif key == "volumes":  # merged by container path: the override's mount wins
            merged = {_volume_target(v): v for v in base.get(key, [])}
            merged.update({_volume_target(v): v for v in value})
            out[key] = list(merged.values())
        elif key == "ports":  # appended, duplicates dropped
            out[key] = list(dict.fromkeys([*base.get(key, []), *value]))
        else:  # image, command, entrypoint...: replaced
            out[key] = value
    return out


def load_raw(paths: list[Path] | None = None) -> list[dict[str, Any]]:
    """The compose documents as parsed YAML, before interpolation."""
    docs = []
    for path in paths or [COMPOSE_FILE]:
        with open(path) as fh:
            docs.append(yaml.safe_load(fh))
    return docs


def resolve(docs: list[dict[str, Any]], env: dict[str, str]) -> dict[str, Any]:
    """Interpolate and merge already-parsed compose documents (first is the base)."""
    merged: dict[str, Any] = {}
    for doc in docs:
        doc = _interpolate_tree(doc, env)
        for section in ("services", "volumes"):
            target = merged.setdefault(section, {})
            for name, value in (doc.get(section) or {}).items():
                if section == "services" and name in target:
                    target[name] = _merge_service(target[name], value)
                else:
                    target[name] = value
        for key, value in doc.items():
            if key not in ("services", "volumes"):
                merged[key] = value
    return merged


def load_compose(env: dict[str, str], s3_backend: str = "minio") -> dict[str, Any]:
    """The effective compose model for ``env`` (what ``docker compose config`` would show)."""
    return resolve(load_raw(compose_files(s3_backend)), env)


def published_ports(service: dict[str, Any]) -> dict[int, tuple[str, int]]:
    """``{container_port: (host_ip, host_port)}`` of a resolved service (short syntax)."""
    out = {}
    for spec in service.get("ports", []):
        parts = str(spec).split(":")
        if len(parts) != 3:
            raise ValueError(f'port {spec!r} does not name a host address: write "127.0.0.1:HOST:CONTAINER"')
        ip, host, container = parts
        out[int(container.split("/")[0])] = (ip, int(host))
    return out
