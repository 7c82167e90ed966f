"""The lab's hybrid feature-serving API: batch (Feast) + streaming (Redis) + request context,
with a TTL cache, per-source timeouts and a fallback chain. Run it with ``python -m serving.api``."""
