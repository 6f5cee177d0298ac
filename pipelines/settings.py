"""One typed settings object for everything newswatch connects to or tunes.

Values come from, in order of precedence: environment variables (NEWSWATCH_<FIELD>, nested
fields with "__", e.g. NEWSWATCH_KAFKA__BOOTSTRAP=host:9092), then a YAML file named by
NEWSWATCH_CONFIG (default: newswatch.yaml in the working directory, if present), then the
defaults below, which match the local stack that `newswatch stack up` starts.
"""
from __future__ import annotations

import base64
import binascii
import json
import os
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit, urlunsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

# A checkout's root, or the installed newswatch package: schemas/ and deploy/ sit under it in both.
REPO_DIR = Path(__file__).resolve().parent.parent


def _var_dir() -> Path:
    """Where newswatch keeps what it makes (the local stack, the Prism binary, webhook keys): var/
    in a checkout; for an installed copy $NEWSWATCH_HOME, else ~/.newswatch (site-packages may
    be read-only, and is no place for data)."""
    if (REPO_DIR / "pyproject.toml").exists():
        return REPO_DIR / "var"
    return Path(os.environ.get("NEWSWATCH_HOME") or Path.home() / ".newswatch")


VAR_DIR = _var_dir()


class SettingsError(ValueError):
    """The settings are wrong, or do not match the cluster; the message says which setting to fix.
    It never holds a secret."""


def _setting(section: str, field: str) -> str:
    """How a user sets one field, for error messages."""
    return f"{section}.{field} (env NEWSWATCH_{section.upper()}__{field.upper()})"


def _existing_file(path: Path | None, section: str, field: str) -> None:
    if path is not None and not path.is_file():
        raise ValueError(f"{_setting(section, field)} names {path}, which is not a file: fix the path")


_SECRET_CONFIG = ConfigDict(hide_input_in_errors=True)  # a validation error must not echo a password


class KafkaSettings(BaseModel):
    model_config = _SECRET_CONFIG

    bootstrap: str = "127.0.0.1:19092"
    topic: str = "news"
    dlq_topic: str = "news.dlq"
    group_id: str = "newswatch"
    partitions: int = 3
    poll_max_records: int = 500
    poll_timeout_ms: int = 200
    # Security, as Kafka names it: TLS for SSL/SASL_SSL, a SASL login for SASL_*.
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: Path | None = None      # CA bundle that signed the brokers' certificates (default: system CAs)
    ssl_certfile: Path | None = None    # client certificate, for brokers that require mutual TLS
    ssl_keyfile: Path | None = None     # its private key
    ssl_key_password: SecretStr | None = None  # when that key is encrypted
    ssl_check_hostname: bool = True

    @property
    def uses_sasl(self) -> bool:
        return self.security_protocol.startswith("SASL_")

    @property
    def uses_tls(self) -> bool:
        return self.security_protocol in ("SSL", "SASL_SSL")

    @model_validator(mode="after")
    def _check_security(self) -> KafkaSettings:
        if self.uses_sasl:
            self._check_sasl_complete()
        else:
            self._check_unused("sasl_mechanism", "sasl_username", "sasl_password",
                               fix="set kafka.security_protocol to SASL_SSL (or SASL_PLAINTEXT)")
        if self.uses_tls:
            for field in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
                _existing_file(getattr(self, field), "kafka", field)
            if self.ssl_keyfile and not self.ssl_certfile:
                raise ValueError(f"{_setting('kafka', 'ssl_keyfile')} is set without "
                                 f"{_setting('kafka', 'ssl_certfile')}: give the client certificate too")
        else:
            self._check_unused("ssl_cafile", "ssl_certfile", "ssl_keyfile", "ssl_key_password",
                               fix="set kafka.security_protocol to SSL or SASL_SSL")
        return self

    def _check_sasl_complete(self) -> None:
        for field, what in (("sasl_mechanism", "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512, as the broker's listener allows"),
                            ("sasl_username", "the SASL user"), ("sasl_password", "that user's password")):
            if getattr(self, field) is None:
                raise ValueError(f"kafka.security_protocol is {self.security_protocol} but {_setting('kafka', field)} "
                                 f"is not set: set it to {what}")

    def _check_unused(self, *fields: str, fix: str) -> None:
        """Settings that the chosen protocol would silently ignore are a mistake: say so."""
        for field in fields:
            if getattr(self, field) is not None:
                raise ValueError(f"{_setting('kafka', field)} is set but kafka.security_protocol is "
                                 f"{self.security_protocol}, which does not use it: {fix}, or remove the setting")


class SearchSettings(BaseModel):
    model_config = _SECRET_CONFIG

    backend: Literal["opensearch", "elasticsearch"] = "opensearch"
    url: str = "http://127.0.0.1:19200"
    username: str | None = None
    password: SecretStr | None = None
    api_key: SecretStr | None = None    # "id:key", or the base64 form the cluster returns as "encoded"
    ca_certs: Path | None = None        # CA bundle for an https:// url (default: system CAs)
    verify_certs: bool = True           # also verifies the host name
    articles_index: str = "newswatch-articles"
    events_index: str = "newswatch-events"
    subscriptions_index: str = "newswatch-subscriptions"  # percolator queries, mapped like the events index
    alerts_index: str = "newswatch-alerts"  # every alert and its delivery status
    bulk_max_docs: int = 500
    bulk_max_retries: int = 5
    # gzip request bodies: worth it over a slow link to a remote cluster; on a LAN or loopback it
    # only costs the pipeline's CPU (measured in benchmarks/throughput.py --profile)
    http_compress: bool = False

    @model_validator(mode="after")
    def _check_auth_and_tls(self) -> SearchSettings:
        self._move_url_credentials()
        if self.api_key is not None:
            if self.username or self.password:
                raise ValueError(f"both {_setting('search', 'api_key')} and basic auth (search.username/password) "
                                 "are set: keep one of them")
            api_key_token(self.api_key, strict=self.backend == "elasticsearch")  # raises when malformed
        elif (self.username is None) != (self.password is None):
            missing = "password" if self.password is None else "username"
            raise ValueError(f"basic auth needs both search.username and search.password: set {_setting('search', missing)}")
        if not self.url.lower().startswith("https://") and self.ca_certs is not None:
            raise ValueError(f"{_setting('search', 'ca_certs')} is set but search.url is not https://: "
                             "use the https:// address of the cluster, or remove ca_certs")
        _existing_file(self.ca_certs, "search", "ca_certs")
        return self

    def _move_url_credentials(self) -> None:
        """`https://user:pass@host` works, but the credentials move to username/password so that the url
        can be logged and shown in errors as it is."""
        parts = urlsplit(self.url)
        if "@" not in parts.netloc:
            return
        if self.username or self.password or self.api_key:
            raise ValueError("search.url carries credentials and search.username/password or api_key are set too: "
                             "keep one of them")
        userinfo, _, hostport = parts.netloc.rpartition("@")
        user, sep, password = userinfo.partition(":")
        if not user or not sep:
            raise ValueError("search.url has a user but no password before '@': write https://USER:PASSWORD@host:port "
                             "or use search.username and search.password")
        self.url = urlunsplit(parts._replace(netloc=hostport))
        self.username, self.password = unquote(user), SecretStr(unquote(password))


def api_key_token(api_key: SecretStr, strict: bool = True) -> str:
    """What follows "Authorization: ApiKey ": base64("id:key"). The key may be given as "id:key" or
    already encoded. strict (Elasticsearch): an encoded key must decode to "id:key"; OpenSearch's
    API tokens are opaque and sent as given."""
    value = api_key.get_secret_value().strip()
    if ":" in value:
        key_id, _, key = value.partition(":")
        if key_id and key:
            return base64.b64encode(value.encode("utf-8")).decode("ascii")
    elif value and (not strict or _is_encoded_api_key(value)):
        return value
    raise ValueError(f"{_setting('search', 'api_key')} is not an API key: give it as ID:KEY or as the base64 "
                     "'encoded' form the cluster returned when the key was created")


def _is_encoded_api_key(value: str) -> bool:
    try:
        key_id, sep, key = base64.b64decode(value, validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    return bool(key_id and sep and key)


class StackSettings(BaseModel):
    """The local stack that `newswatch stack up` fetches and starts (loopback only)."""
    home: Path = VAR_DIR / "stack"
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


class AlertSettings(BaseModel):
    """Subscriptions, the alerts topic and index, and the delivery channels."""
    topic: str = "alerts"
    dlq_topic: str = "alerts.dlq"
    group_id: str = "newswatch-alerts"  # the delivery worker's consumer group
    # Webhook targets on private, loopback, link-local or metadata addresses are refused unless
    # they fall in one of these CIDRs (e.g. ["127.0.0.0/8"] for a receiver on this machine).
    allowed_networks: list[str] = Field(default_factory=list)
    http_timeout_s: float = Field(5.0, gt=0)
    smtp_timeout_s: float = Field(10.0, gt=0)
    kafka_timeout_s: float = Field(10.0, gt=0)
    max_attempts: int = Field(5, ge=1)        # deliveries tried before an alert goes to the alerts DLQ
    backoff_base_s: float = Field(0.5, gt=0)  # exponential backoff with full jitter between attempts
    backoff_max_s: float = Field(30.0, gt=0)
    # Sends the delivery worker runs at once (threads): a slow receiver then delays only its own
    # alerts; 1 sends one after another.
    delivery_concurrency: int = Field(16, ge=1, le=256)
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = "newswatch@localhost"
    subscriptions_refresh_s: float = Field(1.0, gt=0)  # how often the matcher reloads subscriptions
    rules_file: Path | None = None  # surge rules (schemas/surge_rules.schema.json); none: no surge alerts


class ApiSettings(BaseModel):
    """`newswatch api`: the REST API and the analysts' page (loopback by default)."""
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    # Origins allowed to call the API from a browser page of their own; empty: no CORS headers at all.
    cors_origins: list[str] = Field(default_factory=list)
    rate_limit_per_minute: int = Field(600, ge=1)  # requests per token (or per address without one)
    max_body_bytes: int = Field(65_536, ge=1024)   # larger request bodies get 413
    tokens_index: str = "newswatch-tokens"         # API token hashes (never the tokens) and their users
    stream_poll_s: float = Field(0.5, gt=0)        # how often the live feed looks for new alerts


class PipelineSettings(BaseModel):
    # prism: Beam's Prism runner, started by newswatch from prism_binary; portable: any Beam job
    # service at job_endpoint; flink: FlinkRunner with a job-server jar the user supplies (Beam is
    # never let download one at run time). See deploy/flink/README.md.
    runner: Literal["prism", "portable", "flink"] = "prism"
    prism_binary: Path = VAR_DIR / "bin" / "prism"
    job_endpoint: str = "localhost:8099"
    environment_type: Literal["LOOPBACK", "PROCESS", "EXTERNAL", "DOCKER"] = "LOOPBACK"
    environment_config: str | None = None
    flink_master: str = "localhost:8081"
    parallelism: int = -1  # -1: the cluster's default
    flink_job_server_jar: Path | None = None
    max_item_bytes: int = 1_000_000
    # Beam jobs `newswatch run` keeps side by side, each over its share of the news partitions
    # (round-robin); each is one Python SDK worker process, so this is how the NLP uses more cores.
    workers: int = Field(1, ge=1)
    # The supervisor (`newswatch run`): see pipelines/recovery.py for how poison is isolated.
    poison_max_attempts: int = Field(2, ge=1)  # crashes at one record, alone in flight, before it is set aside
    stall_timeout_s: float = Field(120.0, gt=0)  # no commit this long, with a backlog and services up: a hang
    careful_window: int = Field(50, ge=1)  # records a careful run replays one by one before normal speed
    metrics_port: int = Field(9464, ge=0, le=65535)  # the worker's Prometheus /metrics on 127.0.0.1; 0: off


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NEWSWATCH_", env_nested_delimiter="__", extra="forbid",
                                      hide_input_in_errors=True)

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    search: SearchSettings = Field(default_factory=SearchSettings)
    stack: StackSettings = Field(default_factory=StackSettings)
    pipeline: PipelineSettings = Field(default_factory=PipelineSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)

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
    try:
        return Settings(**overrides)
    except ValidationError as err:
        raise SettingsError(describe_errors(err)) from None  # from None: the cause holds the inputs


def describe_errors(err: ValidationError) -> str:
    """One line per problem, naming the setting; never the values given (they may be passwords)."""
    lines = []
    for problem in err.errors(include_input=False, include_url=False):
        if problem["type"] == "value_error":  # ours: the message names the setting
            lines.append(problem["msg"].removeprefix("Value error, "))
        else:
            lines.append(f"{'.'.join(str(part) for part in problem['loc'])}: {problem['msg']}")
    return "invalid settings: " + "; ".join(lines)


def as_environment(s: Settings, base: dict[str, str] | None = None) -> dict[str, str]:
    """An environment that makes a child process (the supervised worker, a test's pipeline) load
    exactly these settings: NEWSWATCH_<SECTION>__<FIELD> for every set field, secrets in clear (an
    environment is how secrets reach a process; it is never printed)."""
    env = dict(os.environ if base is None else base)
    for section in ("kafka", "search", "pipeline", "alerts", "api"):
        for key, value in getattr(s, section).model_dump().items():
            if isinstance(value, SecretStr):  # str() of a SecretStr is its mask
                value = value.get_secret_value()
            if value is not None:  # lists and mappings as JSON, which is how pydantic-settings reads them
                text = json.dumps(value, default=str) if isinstance(value, list | dict) else str(value)
                env[f"NEWSWATCH_{section.upper()}__{key.upper()}"] = text
    env["NEWSWATCH_CONFIG"] = os.devnull  # the settings above are complete: no newswatch.yaml on top
    return env
