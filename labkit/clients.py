"""Configured clients for the lab's services. Notebooks and modules get their clients here.

Every helper reads :func:`labkit.settings.get_settings`, so pointing the lab at another stack
(the test stack, a remote cluster) is a matter of settings, never of code.
"""

from __future__ import annotations

import os
from typing import Any

from labkit.settings import Settings, get_settings


def _s(settings: Settings | None) -> Settings:
    return settings or get_settings()


# -- Kafka -------------------------------------------------------------------------------
def kafka_common(settings: Settings | None = None) -> dict[str, Any]:
    """kafka-python keyword arguments shared by producers, consumers and admins."""
    s = _s(settings)
    return {"bootstrap_servers": s.kafka_bootstrap.split(","), "client_id": "mlinfra-lab"}


def kafka_group_settings(settings: Settings | None = None) -> dict[str, Any]:
    """Consumer-group timeouts: how long a crashed member keeps its partitions before the group
    coordinator gives them to the others. Kafka's default is 45 s; the lab uses 10 s (the
    broker's minimum is 6 s) so that crash drills recover in seconds. A clean ``close()``
    leaves the group at once whatever this says."""
    s = _s(settings)
    return {
        "session_timeout_ms": s.kafka_session_timeout_ms,
        "heartbeat_interval_ms": s.kafka_heartbeat_interval_ms,
    }


def kafka_producer(settings: Settings | None = None, **overrides: Any):
    """A kafka-python ``KafkaProducer``; keyword arguments override the defaults."""
    from kafka import KafkaProducer

    config = {**kafka_common(settings), "acks": "all", "linger_ms": 5, **overrides}
    return KafkaProducer(**config)


def kafka_consumer(*topics: str, group_id: str | None = None, settings: Settings | None = None, **overrides: Any):
    """A kafka-python ``KafkaConsumer`` with the lab's group timeouts, reading from the earliest
    offset, committing only when asked. Kafka's own fetch wait (500 ms) is kept: the broker
    answers a waiting fetch as soon as data arrives, so it bounds only an idle poll."""
    from kafka import KafkaConsumer

    config = {
        **kafka_common(settings),
        **kafka_group_settings(settings),
        "group_id": group_id,
        "auto_offset_reset": "earliest",
        "enable_auto_commit": False,
        **overrides,
    }
    return KafkaConsumer(*topics, **config)


def kafka_admin(settings: Settings | None = None, **overrides: Any):
    """A kafka-python ``KafkaAdminClient``."""
    from kafka.admin import KafkaAdminClient

    return KafkaAdminClient(**{**kafka_common(settings), **overrides})


def ensure_topic(
    name: str, partitions: int = 4, settings: Settings | None = None, *, any_partitions: bool = False
) -> bool:
    """Create ``name`` with ``partitions`` partitions (replication 1, the broker's retention)
    unless it exists. True if this call created it.

    A topic that exists with another partition count raises, because keys would land on other
    partitions than the code expects; ``any_partitions=True`` accepts it as it is.
    """
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    admin = kafka_admin(settings)
    try:
        try:
            admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
            return True
        except TopicAlreadyExistsError:
            pass
        if not any_partitions:
            have = len(admin.describe_topics([name])[0]["partitions"])
            if have != partitions:
                raise ValueError(
                    f"topic {name!r} exists with {have} partitions, not {partitions}; "
                    "use a new topic name (or delete the topic first)"
                )
        return False
    finally:
        admin.close()


def confluent_config(settings: Settings | None = None, **overrides: Any) -> dict[str, Any]:
    """librdkafka-style config (confluent-kafka, quixstreams) for the lab's broker."""
    s = _s(settings)
    return {
        "bootstrap.servers": s.kafka_bootstrap,
        "session.timeout.ms": s.kafka_session_timeout_ms,
        "heartbeat.interval.ms": s.kafka_heartbeat_interval_ms,
        **overrides,
    }


# -- Redis -------------------------------------------------------------------------------
def redis_client(settings: Settings | None = None, **overrides: Any):
    """A ``redis.Redis`` for the lab's Redis (``decode_responses`` off unless asked)."""
    import redis

    return redis.Redis.from_url(_s(settings).redis_url, **overrides)


# -- S3 ----------------------------------------------------------------------------------
def s3_client(settings: Settings | None = None):
    """A boto3 S3 client for the lab's object store (path-style addressing)."""
    import boto3
    from botocore.config import Config

    s = _s(settings)
    return boto3.client(
        "s3",
        endpoint_url=s.s3_endpoint,
        aws_access_key_id=s.s3_access_key,
        aws_secret_access_key=s.s3_secret_key,
        region_name=s.s3_region,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3, "mode": "standard"}),
    )


def s3fs_filesystem(settings: Settings | None = None):
    """An ``s3fs.S3FileSystem`` (fsspec) for pandas/pyarrow reads and writes on the lab's S3."""
    import s3fs

    s = _s(settings)
    return s3fs.S3FileSystem(
        key=s.s3_access_key,
        secret=s.s3_secret_key,
        endpoint_url=s.s3_endpoint,
        client_kwargs={"region_name": s.s3_region},
        use_listings_cache=False,
    )


def pyarrow_s3(settings: Settings | None = None):
    """A ``pyarrow.fs.S3FileSystem`` on the lab's S3."""
    from pyarrow import fs

    s = _s(settings)
    scheme, _, rest = s.s3_endpoint.partition("://")
    return fs.S3FileSystem(
        access_key=s.s3_access_key,
        secret_key=s.s3_secret_key,
        endpoint_override=rest,
        scheme=scheme,
        region=s.s3_region,
        allow_bucket_creation=True,
    )


def storage_options(settings: Settings | None = None) -> dict[str, str]:
    """``storage_options`` for pandas/fsspec (``s3://`` paths) on the lab's S3."""
    s = _s(settings)
    return {
        "key": s.s3_access_key,
        "secret": s.s3_secret_key,
        "client_kwargs": {"endpoint_url": s.s3_endpoint, "region_name": s.s3_region},
    }


def delta_storage_options(settings: Settings | None = None) -> dict[str, str]:
    """``storage_options`` for the ``deltalake`` package (object_store keys)."""
    s = _s(settings)
    return {
        "AWS_ENDPOINT_URL": s.s3_endpoint,
        "AWS_ACCESS_KEY_ID": s.s3_access_key,
        "AWS_SECRET_ACCESS_KEY": s.s3_secret_key,
        "AWS_REGION": s.s3_region,
        "AWS_ALLOW_HTTP": "true" if s.s3_endpoint.startswith("http://") else "false",
        # One writer per table per process in the lab; concurrent writers use the
        # conditional-put commit that S3-compatible stores support.
        "AWS_S3_ALLOW_UNSAFE_RENAME": "true",
    }


def aws_env(settings: Settings | None = None) -> dict[str, str]:
    """Standard AWS environment variables for the lab's S3 (tools that only read the env)."""
    s = _s(settings)
    return {
        "AWS_ENDPOINT_URL": s.s3_endpoint,
        "AWS_ENDPOINT_URL_S3": s.s3_endpoint,
        "AWS_ACCESS_KEY_ID": s.s3_access_key,
        "AWS_SECRET_ACCESS_KEY": s.s3_secret_key,
        "AWS_DEFAULT_REGION": s.s3_region,
        "AWS_REGION": s.s3_region,
        "AWS_ALLOW_HTTP": "true" if s.s3_endpoint.startswith("http://") else "false",
    }


def export_aws_env(settings: Settings | None = None) -> None:
    """Put :func:`aws_env` into ``os.environ`` (Feast validates ``s3://`` sources through it)."""
    os.environ.update(aws_env(settings))


# -- Spark -------------------------------------------------------------------------------
def spark_session(app_name: str = "mlinfra-lab", settings: Settings | None = None, **conf: str):
    """A SparkSession on ``LAB_SPARK_MASTER`` (default ``local[2]``), sized for a laptop.

    The same code runs on a cluster by changing the master URL in settings only.
    """
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", os.sys.executable)
    from pyspark.sql import SparkSession

    s = _s(settings)
    builder = (
        SparkSession.builder.appName(app_name)
        .master(s.spark_master)
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.default.parallelism", "4")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.memory", "2g")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.local.dir", str(s.home / "spark-tmp"))
        .config("spark.sql.warehouse.dir", str(s.home / "spark-warehouse"))
    )
    for key, value in conf.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()
