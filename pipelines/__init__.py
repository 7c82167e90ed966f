"""The lab's batch feature pipeline: one job, run by hand, by Prefect or by Airflow.

    extract (stage the lake's partitions)  ->  compute (Spark, windowed user features)
        ->  validate (Great Expectations)  ->  publish (Delta table on S3, one partition per day)
        ->  materialize (online store)

Each step is a plain function in :mod:`pipelines.steps` that reads and writes durable files,
so an orchestrator can retry any step on its own and re-running a day replaces its output.

Modules: ``lake`` (staging, Spark read), ``features`` (Spark windows), ``oracle`` (pandas twin),
``validation`` (GX suites), ``feature_table`` (Delta), ``online`` (materialization), ``steps``,
``prefect_flow``, ``airflow_runner`` and ``dags/`` (orchestration), ``faults`` (injected failures).
Nothing heavy is imported here, so ``python -m pipelines step extract`` does not start Spark.
"""
