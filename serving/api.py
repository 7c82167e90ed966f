"""The feature-serving HTTP API (FastAPI). Run it as the lab does: ``python -m serving.api``.

    GET /features?user_id=42&product_id=7&device=mobile   the feature vector, now
        (header ``Cache-Control: no-cache`` bypasses the cache read, to measure or debug)
    GET /health                                             liveness, and what each source is

A bad request (missing or malformed id, unknown user or product, unknown device) gets a 4xx
with a message saying what was wrong and what to send instead. A failing *dependency* never
does: the response is 200 with ``degraded: true`` and the failed sources named.
"""

from __future__ import annotations

import json
import logging
import sys
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from labkit.cli_support import command, parser
from serving.config import DEVICES, EXTRA_BATCH_FEATURES, ServingConfig
from serving.directory import EntityDirectory
from serving.service import HybridFeatureService

log = logging.getLogger("serving.api")


def build_service(config: ServingConfig | None = None) -> HybridFeatureService:
    """The real service: Feast online store, the stream processor's Redis hashes, a Redis cache."""
    from labkit.clients import redis_client
    from serving.cache import FeatureCache
    from serving.sources import FeastBatchSource, RedisStreamSource

    cfg = config or ServingConfig.from_env()
    # short socket timeouts: a hung Redis must not hold a worker thread for long
    r = redis_client(socket_timeout=1.0, socket_connect_timeout=0.5)
    return HybridFeatureService(
        batch=FeastBatchSource(feature_service=cfg.feature_service, extra=EXTRA_BATCH_FEATURES),
        stream=RedisStreamSource(r, cfg.stream_prefix),
        cache=FeatureCache(r, cfg.cache_ttl_s, cfg.cache_stale_ttl_s, cfg.cache_prefix),
        config=cfg,
    )


def create_app(service: HybridFeatureService | None = None, directory: EntityDirectory | None = None) -> FastAPI:
    """The app. Tests pass their own service/directory; the lab's process builds the real ones."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.service = service or build_service()
        app.state.directory = directory if directory is not None else EntityDirectory.from_world()
        warm = getattr(app.state.service.batch, "warm_up", None)
        if warm is not None:
            try:
                warm()
            except Exception as exc:  # a store that is down at start: serve degraded, do not crash
                log.error(json.dumps({"event": "warm_up_failed", "error": f"{type(exc).__name__}: {exc}"[:300]}))
        yield
        if service is None:
            app.state.service.close()

    app = FastAPI(title="mlinfra-lab feature API", lifespan=lifespan)

    @app.exception_handler(RequestValidationError)
    async def clear_validation_errors(request: Request, exc: RequestValidationError):
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "query")
            if err.get("type") == "missing":
                problems.append(f"{where} is missing: add ?{where}=<positive integer> to the URL")
            else:
                problems.append(
                    f"{where}={err.get('input')!r} is invalid: {err.get('msg')}; "
                    f"send a positive integer, e.g. ?{where}=42"
                )
        return JSONResponse(status_code=422, content={"error": "; ".join(problems), "detail": problems})

    @app.get("/health")
    def health(request: Request):
        d = request.app.state.directory
        return {
            "status": "ok",
            "directory": d.describe(),
            "config": {k: str(v) for k, v in vars(request.app.state.service.config).items()},
        }

    @app.get("/features")
    def features(
        request: Request,
        user_id: Annotated[int, Query(gt=0, description="the user's id (positive integer)")],
        product_id: Annotated[int, Query(gt=0, description="the product's id (positive integer)")],
        device: Annotated[str, Query(description=f"one of {', '.join(DEVICES)}")] = "mobile",
    ):
        if device not in DEVICES:
            return JSONResponse(
                status_code=422, content={"error": f"device={device!r} is not known: use one of {', '.join(DEVICES)}"}
            )
        d: EntityDirectory = request.app.state.directory
        if not d.has_user(user_id):
            return JSONResponse(
                status_code=404,
                content={
                    "error": f"unknown user_id {user_id}: no such user in the user directory "
                    f"({d.describe()}); check the id, or register the user first"
                },
            )
        if not d.has_product(product_id):
            return JSONResponse(
                status_code=404,
                content={
                    "error": f"unknown product_id {product_id}: no such product in the catalogue ({d.describe()})"
                },
            )
        # "Cache-Control: no-cache" is HTTP's way to say "revalidate with the origin": skip the cache read
        no_cache = "no-cache" in request.headers.get("cache-control", "").lower()
        return request.app.state.service.get_features(user_id, product_id, device, use_cache=not no_cache).to_dict()

    return app


def _configure_logging() -> None:
    from labkit.settings import get_settings

    # One JSON object per line on stderr (the service's messages already are JSON strings).
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter('{"ts": "%(asctime)s", "level": "%(levelname)s", "logger": "%(name)s", "msg": %(message)s}')
    )
    for name in ("serving", "monitoring"):
        lg = logging.getLogger(name)
        lg.handlers[:] = [handler]
        lg.setLevel(get_settings().serving_log_level)
        lg.propagate = False


@command("python -m serving.api")
def main(argv: list[str] | None = None) -> int:
    import uvicorn

    from labkit.settings import get_settings

    parser(
        "python -m serving.api",
        "The lab's feature API on the host and port of the settings (LAB_HOST, LAB_FEATURE_API_PORT); no options.",
    ).parse_args(argv)
    _configure_logging()
    s = get_settings()
    uvicorn.run(create_app(), host=s.host, port=s.ports["feature_api"], log_level="warning", access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
