"""Request and response bodies of the API. The subscription bodies are the model's own
`Subscription` (pipelines/model.py), so the OpenAPI document, the JSON Schema in schemas/ and the
CLI validate the same way."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from newswatch.pipelines.model import Alert, Subscription

SERVER_FIELDS = ("id", "owner", "created_at")


class SubscriptionInput(Subscription):
    """A subscription as a client sends it. The server assigns `id` (POST) or takes it from the
    path (PUT), and keeps `created_at`; `owner` defaults to the caller, and only an admin may
    name another. A webhook channel needs its `secret` (the HMAC key the receiver verifies):
    newswatch never shows a key back, so on PUT a webhook whose URL is unchanged may leave it out
    and keeps its key."""
    id: str | None = Field(default=None, description="ignored: the server assigns it (POST) or the path names it (PUT)")
    owner: str | None = Field(default=None, min_length=1, max_length=128,
                              description="default: the caller; only an admin may name another user")


def to_subscription(body: Subscription, sub_id: str, owner: str, created_at: str | None) -> Subscription:
    """The stored subscription: the body's fields (channel secrets included: they are read as
    attributes, since serializing drops them) with the server's id, owner and creation time."""
    fields = {name: getattr(body, name) for name in Subscription.model_fields if name not in SERVER_FIELDS}
    return Subscription(id=sub_id, owner=owner, created_at=created_at, **fields)


class Trigger(BaseModel):
    model_config = ConfigDict(extra="ignore")
    text: str
    start: int | None = None
    end: int | None = None


class Mention(BaseModel):
    model_config = ConfigDict(extra="ignore")
    canonical: str
    text: str | None = None
    kind: str | None = None
    country: str | None = None
    lat: float | None = None
    lon: float | None = None


class EventHit(BaseModel):
    """An event as search and tests return it (the article text left out: `url` links to it)."""
    model_config = ConfigDict(extra="ignore")
    id: str
    article_id: str | None = None
    type: str
    subtype: str | None = None
    language: str | None = None
    confidence: float | None = None
    title: str | None = None
    sentence_text: str | None = None
    trigger: Trigger | None = None
    trigger_span: list[int] | None = Field(default=None, description="[start, end) of the trigger in sentence_text")
    actors: list[Mention] = Field(default_factory=list)
    locations: list[Mention] = Field(default_factory=list)
    points: list[dict] = Field(default_factory=list, description="[{lat, lon}] of the event's places")
    url: str | None = None
    source: str | None = None
    published_at: str | None = None
    ingested_at: str | None = None


class FacetBucket(BaseModel):
    value: str
    count: int


class SearchResult(BaseModel):
    total: int
    page: int
    size: int
    events: list[EventHit]
    facets: dict[str, list[FacetBucket]] = Field(description="type, subtype, actor, country, place, language")


class WouldHaveAlerted(BaseModel):
    """The events of the last `days` that a subscription would have alerted."""
    subscription_id: str | None
    days: float
    count: int
    events: list[EventHit]


class ChannelStatus(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: str
    status: str | None = None
    attempts: int | None = None
    error: str | None = None


class AlertView(Alert):
    """An alert with its delivery status and its lifecycle: new -> acknowledged."""
    model_config = ConfigDict(extra="ignore")
    state: Literal["new", "acknowledged"] = "new"
    status: str | None = Field(default=None, description="delivery: retrying, delivered, failed, suppressed, "
                                                          "folded, in_digest")
    throttle: str | None = None
    channels: list[ChannelStatus] = Field(default_factory=list)
    last_error: str | None = None
    delivered_at: str | None = None
    acknowledged_at: str | None = None
    acknowledged_by: str | None = None
    decided_at: str | None = None
    updated_at: str | None = None
    trigger_span: list[int] | None = Field(default=None, description="[start, end) of the trigger in "
                                                                     "event.sentence_text")


class AlertList(BaseModel):
    count: int
    alerts: list[AlertView]


class Me(BaseModel):
    user: str
    admin: bool


class PlaceOut(BaseModel):
    canonical: str
    kind: str
    country: str | None
    lat: float | None
    lon: float | None


class Meta(BaseModel):
    event_types: list[str]
    languages: list[str]
    actors: list[str]
    countries: list[dict] = Field(description="[{code, name}]")
    rate_limit_per_minute: int


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    checks: dict[str, str] = Field(default_factory=dict)


class Problem(BaseModel):
    detail: str = Field(description="what was wrong and what to do")


class FieldProblem(BaseModel):
    field: str = Field(description="where, e.g. channels.0.url, or a query parameter's name")
    message: str


class Unprocessable(Problem):
    errors: list[FieldProblem]
