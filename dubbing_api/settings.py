"""The HTTP service's settings: every environment variable it reads, typed, in one place."""

from __future__ import annotations

from typing import Annotated

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    """``DUBBING_<FIELD>`` for each field, and Dagster's ``DAGSTER_GRAPHQL_URL``."""

    model_config = SettingsConfigDict(
        env_prefix="DUBBING_", extra="ignore", frozen=True, env_ignore_empty=True
    )

    graphql_url: str = Field(
        "http://127.0.0.1:3000/graphql",
        validation_alias=AliasChoices("DAGSTER_GRAPHQL_URL"),
        description="Dagster's GraphQL endpoint (dagster-webserver)",
    )
    graphql_timeout_s: float = Field(5.0, gt=0, description="every GraphQL call's timeout")
    code_location: str = Field(
        "dubbing_pipeline.definitions", description="the code location the jobs live in"
    )
    redis_url: str = Field("redis://127.0.0.1:6379/0", description="Redis of the event stream")
    redis_timeout_s: float = Field(1.0, gt=0, description="a Redis read's timeout")
    artifacts: str = Field("artifacts", description="the artifact store: folder or fsspec URL")
    api_tokens: str = Field("tokens.json", description="hashed API tokens (JSON file)")
    max_upload_bytes: int = Field(2 * 1024**3, gt=0, description="uploads over it are a 413")
    api_cache_ttl_s: float = Field(1.0, ge=0, description="how old shared stats may be")
    api_source_urls: Annotated[tuple[str, ...], NoDecode] = Field(
        (), description="object-storage URL prefixes callers may name as a source"
    )
    ws_send_timeout_s: float = 5.0

    @field_validator("api_source_urls", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(p.strip() for p in value.split(",") if p.strip())
        return value
