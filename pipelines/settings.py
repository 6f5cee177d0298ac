"""One typed settings object for everything newswatch connects to or tunes.

Values come from, in order of precedence: environment variables (NEWSWATCH_<FIELD>, nested
fields with "__", e.g. NEWSWATCH_KAFKA__BOOTSTRAP=host:9092), then a YAML file named by
NEWSWATCH_CONFIG (default: newswatch.yaml in the working directory, if present), then the
defaults below, which match the local stack that `newswatch stack up` starts.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

REPO_DIR = Path(__file__).resolve().parent.parent


class KafkaSettings(BaseModel):
    bootstrap: str = "127.0.0.1:19092"
    topic: str = "news"
    dlq_topic: str = "news.dlq"
    group_id: str = "newswatch"
    partitions: int = 3
    poll_max_records: int = 500
    poll_timeout_ms: int = 200


class SearchSettings(BaseModel):
    backend: Literal["opensearch", "elasticsearch"] = "opensearch"
    url: str = "http://127.0.0.1:19200"
    username: str | None = None
    password: str | None = None
    articles_index: str = "newswatch-articles"
    events_index: str = "newswatch-events"
    bulk_max_docs: int = 500
    bulk_max_retries: int = 5


class StackSettings(BaseModel):
    """The local stack that `newswatch stack up` fetches and starts (loopback only)."""
    home: Path = REPO_DIR / "var" / "stack"
    kafka_port: int = 19092
    kafka_controller_port: int = 19093
    search_http_port: int = 19200
    search_transport_port: int = 19300
    es_http_port: int = 19201
    es_transport_port: int = 19301
    es_version: str = "8.17.0"   # Elasticsearch's integ-test distribution, from Maven Central
    kafka_heap: str = "512m"
    search_heap: str = "1g"
    es_heap: str = "512m"
    java_home: Path | None = None


class PipelineSettings(BaseModel):
    # Prism only for now: Beam's Flink job server for 2.75.0 is not served here (see README).
    runner: Literal["prism"] = "prism"
    prism_binary: Path = REPO_DIR / "var" / "bin" / "prism"
    max_item_bytes: int = 1_000_000


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NEWSWATCH_", env_nested_delimiter="__", extra="forbid")

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    search: SearchSettings = Field(default_factory=SearchSettings)
    stack: StackSettings = Field(default_factory=StackSettings)
    pipeline: PipelineSettings = Field(default_factory=PipelineSettings)

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings,
                                   file_secret_settings) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, _YamlSource(settings_cls)


class _YamlSource(PydanticBaseSettingsSource):
    def get_field_value(self, field, field_name):  # pragma: no cover - whole-file source
        return None, field_name, False

    def __call__(self) -> dict:
        path = Path(os.environ.get("NEWSWATCH_CONFIG", "newswatch.yaml"))
        if not path.exists():
            if "NEWSWATCH_CONFIG" in os.environ:
                raise FileNotFoundError(f"NEWSWATCH_CONFIG names {path}, which does not exist; fix the path or unset it")
            return {}
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path} must hold a mapping of settings (see README, Configuration)")
        return data


def load_settings(**overrides) -> Settings:
    return Settings(**overrides)
