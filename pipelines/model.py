"""The element and result types that the pipeline, the connectors, the alerting worker and the API
share: no Beam, no Kafka or search client, no lexicons, so every layer can import them."""
from __future__ import annotations

import base64
import hashlib
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

if TYPE_CHECKING:  # NLP result types, named only for the annotations below
    from newswatch.pipelines.nlp.normalize import Normalized
    from newswatch.pipelines.nlp.tagging import TagResult


@dataclass(frozen=True)
class KafkaRecord:
    """One message as read. `prev_offset` is the offset of the message read just before it in
    the same partition during this run (or committed-1 for the first), so the committer can
    tell when every offset below a point has been made durable, gaps in the log included."""
    topic: str
    partition: int
    offset: int
    prev_offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes
    read_error: str | None = None  # set by the reader for an offset it could not read (corrupt batch)
    # The first record of one read of its partition. A read starts where the partition's previous
    # read ended, and that read's records were all durable and committed before this one began,
    # whichever worker process ran it: so everything up to prev_offset is committed.
    first_of_read: bool = False

    @property
    def source(self) -> dict:
        return {"topic": self.topic, "partition": self.partition, "offset": self.offset}


@dataclass(frozen=True)
class Done:
    """Everything derived from this record is durable (indexed, or dead-lettered)."""
    topic: str
    partition: int
    offset: int
    prev_offset: int
    first_of_read: bool = False

    @classmethod
    def of(cls, record: KafkaRecord) -> Done:
        return cls(record.topic, record.partition, record.offset, record.prev_offset, record.first_of_read)


# Every reason a record can be dead-lettered for, with what the user should do about it. The
# README's table and `newswatch dlq list` read this; a test holds the README to it.
DEAD_LETTER_REASONS: dict[str, str] = {
    "empty": "the producer sent an empty message: fix the producer; nothing to replay",
    "too_large": "split the article or raise pipeline.max_item_bytes, then `newswatch dlq replay --reason too_large`",
    "bad_utf8": "re-encode the item as UTF-8 at the producer and send it again",
    "bad_json": "send one JSON object per message; fix the producer and send the item again",
    "schema": "the item misses or mistypes a field of schemas/news_item.schema.json: fix the producer and resend",
    "processing_error": "a newswatch bug on this item: report it with the original; after the fix, "
                        "`newswatch dlq replay --reason processing_error`",
    "index_rejected": "the search engine refused the documents: check the index templates and cluster limits, "
                      "then `newswatch dlq replay --reason index_rejected`",
    "poison": "the item crashed the pipeline process repeatedly and was set aside: report it; after the fix, "
              "`newswatch dlq replay --reason poison`",
    "corrupt_batch": "Kafka returned a batch that failed its CRC check (disk or network corruption): the original "
                     "bytes are lost; send the items of that offset range again from their source",
}


@dataclass(frozen=True)
class DeadLetter:
    reason: str
    error: str
    stage: str
    record: KafkaRecord
    item_id: str | None = None

    def __post_init__(self) -> None:
        if self.reason not in DEAD_LETTER_REASONS:
            raise ValueError(f"unknown dead-letter reason {self.reason!r}; add it to DEAD_LETTER_REASONS")

    @property
    def key(self) -> bytes:
        """Its source coordinates: a letter written twice (a replay after a crash) has the same key."""
        return f"{self.record.topic}:{self.record.partition}:{self.record.offset}".encode()

    def to_json(self) -> bytes:
        return json.dumps({
            "reason": self.reason, "error": self.error, "stage": self.stage, "source": self.record.source,
            "item_id": self.item_id, "original_b64": base64.b64encode(self.record.value).decode("ascii"),
            "failed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "action": DEAD_LETTER_REASONS[self.reason],
        }, ensure_ascii=False).encode("utf-8")


@dataclass
class Article:
    """A valid news item on its way through the NLP steps; each step fills its fields."""
    record: KafkaRecord
    item: dict
    repairs: list[str] = field(default_factory=list)  # what parsing had to repair in the text
    language: str = "und"
    language_confidence: float = 0.0
    paragraph_languages: list[str] = field(default_factory=list)
    normalized: Normalized | None = None
    tagged: TagResult | None = None
    places: list[dict] = field(default_factory=list)

    @property
    def doc_id(self) -> str:
        return self.item["id"]


@dataclass(frozen=True)
class IndexRequest:
    """All documents of one article; durable only when every one of them is."""
    record: KafkaRecord
    item_id: str
    docs: tuple[tuple[str, str, dict], ...]  # (index, id, source)
    alerts: tuple[Alert, ...] = ()  # produced to the alerts topic in the same durable write


# --- alerting: subscriptions and alerts -------------------------------------------------------
# Pydantic models: they validate user input (CLI, API), generate schemas/subscription.schema.json
# and the API's OpenAPI, and serialize to the subscriptions and alerts indices.

EVENT_TYPES = ("offensive", "ceasefire", "troop_buildup")
EventType = Literal["offensive", "ceasefire", "troop_buildup"]


class GeoPoint(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class WebhookChannel(BaseModel):
    """JSON POST with an Idempotency-Key header and an HMAC-SHA256 signature of the body."""
    model_config = ConfigDict(extra="forbid")
    type: Literal["webhook"] = "webhook"
    url: str = Field(min_length=8, max_length=2048, pattern=r"^https?://")
    # The HMAC key. Never shown back by the CLI or API, never in alert documents or logs.
    secret: SecretStr | None = Field(default=None, exclude=True)


class SlackChannel(BaseModel):
    """A Slack-compatible incoming webhook: `text` plus blocks."""
    model_config = ConfigDict(extra="forbid")
    type: Literal["slack"] = "slack"
    url: str = Field(min_length=8, max_length=2048, pattern=r"^https?://")


class EmailChannel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["email"] = "email"
    to: str = Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")


class KafkaChannel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["kafka"] = "kafka"
    topic: str = Field(min_length=1, max_length=249, pattern=r"^[A-Za-z0-9._-]+$")


Channel = Annotated[WebhookChannel | SlackChannel | EmailChannel | KafkaChannel, Field(discriminator="type")]


def _two_letter_codes(values: list[str], kind: str, example: str) -> list[str]:
    for code in values:
        if not re.fullmatch(r"[A-Za-z]{2}", code):
            raise ValueError(f"{code!r} is not a two-letter {kind} code (e.g. {example})")
    return values


class Subscription(BaseModel):
    """What an analyst wants to be told about, and how. Empty lists mean "any"."""
    model_config = ConfigDict(extra="forbid")
    id: str = Field(default_factory=lambda: uuid.uuid4().hex, pattern=r"^[A-Za-z0-9_-]{1,64}$")
    owner: str = Field(min_length=1, max_length=128)
    name: str = Field(min_length=1, max_length=200)
    types: list[EventType] = Field(default_factory=list)
    subtypes: list[str] = Field(default_factory=list)
    actors: list[str] = Field(default_factory=list, description="canonical actor names, e.g. 'Syrian Army'")
    places: list[str] = Field(default_factory=list, description="canonical place names, e.g. 'Deir ez-Zor'")
    countries: list[str] = Field(default_factory=list, description="ISO 3166-1 alpha-2 codes, e.g. 'SY'")
    near: GeoPoint | None = None
    radius_km: float | None = Field(default=None, gt=0, le=20_000)
    languages: list[str] = Field(default_factory=list, description="ISO 639-1 codes, e.g. 'ar'")
    min_confidence: float = Field(default=0.0, ge=0, le=1)
    query: str | None = Field(default=None, max_length=1000,
                              description="full text over the article's title and text (search semantics)")
    channels: list[Channel] = Field(default_factory=list)
    realert_s: int = Field(default=600, ge=0, le=7 * 86400, description="repeats within this window are throttled")
    digest: bool = Field(default=False, description="fold throttled repeats into one digest when the window closes")
    created_at: str | None = None

    @field_validator("countries")
    @classmethod
    def _upper_countries(cls, value: list[str]) -> list[str]:
        return [c.upper() for c in _two_letter_codes(value, "ISO 3166-1 country", "SY, IQ")]

    @field_validator("languages")
    @classmethod
    def _lower_languages(cls, value: list[str]) -> list[str]:
        return [c.lower() for c in _two_letter_codes(value, "ISO 639-1 language", "ar, en")]

    @model_validator(mode="after")
    def _radius_needs_a_point(self) -> Subscription:
        if (self.near is None) != (self.radius_km is None):
            raise ValueError("give both near (a point) and radius_km, or neither")
        return self


def alert_id(subscription_id: str, event_id: str) -> str:
    """Deterministic: the same event alerts the same subscription under the same id, so a replay
    overwrites and receivers can deduplicate. It is the idempotency key everywhere."""
    return hashlib.sha256(f"{subscription_id}\x1f{event_id}".encode()).hexdigest()[:32]


def digest_id(alert_ids) -> str:
    """A digest's id and idempotency key: stable for the same alerts whatever their order, so a
    digest re-sent after a crash carries the same key."""
    joined = "\x1f".join(sorted(set(alert_ids)))
    return hashlib.sha256(f"digest\x1e{joined}".encode()).hexdigest()[:32]


class Alert(BaseModel):
    """One event that matched one subscription (or, kind "surge", a rule that fired)."""
    model_config = ConfigDict(extra="forbid")
    id: str
    kind: Literal["event", "surge"] = "event"
    subscription_id: str
    owner: str
    subscription_name: str
    event_id: str
    event: dict = Field(description="the event document as indexed (type, subtype, trigger, actors, locations, ...)")
    article_url: str | None = None
    matched_at: str
    source_timestamp_ms: int | None = Field(default=None, description="the news message's Kafka timestamp")
