"""Service settings, from the environment (12-factor): nothing to change in code per deployment."""

from __future__ import annotations

import os
from dataclasses import dataclass, field


def _env(name: str, default: str) -> str:
    return os.environ.get(name) or default


@dataclass(frozen=True)
class Settings:
    graphql_url: str = field(
        default_factory=lambda: _env("DAGSTER_GRAPHQL_URL", "http://127.0.0.1:3000/graphql")
    )
    graphql_timeout_s: float = field(
        default_factory=lambda: float(_env("DUBBING_GRAPHQL_TIMEOUT_S", "5"))
    )
    code_location: str = field(
        default_factory=lambda: _env("DUBBING_CODE_LOCATION", "dubbing_pipeline.definitions")
    )
    redis_url: str = field(
        default_factory=lambda: _env("DUBBING_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    artifacts_url: str = field(default_factory=lambda: _env("DUBBING_ARTIFACTS", "artifacts"))
    tokens_file: str = field(default_factory=lambda: _env("DUBBING_API_TOKENS", "tokens.json"))
    max_upload_bytes: int = field(
        default_factory=lambda: int(_env("DUBBING_MAX_UPLOAD_BYTES", str(2 * 1024**3)))
    )
    cache_ttl_s: float = field(
        default_factory=lambda: float(_env("DUBBING_API_CACHE_TTL_S", "1"))
    )  # how old queue stats, dead letter stats and queue listings may be (cache.SharedCache)
    source_url_prefixes: tuple[str, ...] = field(
        default_factory=lambda: tuple(
            p.strip() for p in _env("DUBBING_API_SOURCE_URLS", "").split(",") if p.strip()
        )
    )  # object-storage URLs callers may name as a source (none: only their own uploads)
    ws_send_timeout_s: float = 5.0
