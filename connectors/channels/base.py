"""The one interface every alert channel implements, and the value it delivers.

Matching decides *whether* an analyst is told (not here); a channel decides *how*: it takes a
`Delivery` (one alert, or a digest of several alerts of one throttle key) and either delivers it
or raises `DeliveryError`, saying whether trying again later can help. Channels know model types
and settings only: nothing of NLP, nothing of Beam."""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from newswatch.pipelines.model import Alert, digest_id

from . import render

if TYPE_CHECKING:  # the channel modules import this one; channel_for imports them when called
    from newswatch.pipelines.model import Channel as ChannelModel
    from newswatch.pipelines.settings import Settings

    from .kafka_topic import SharedProducer


class DeliveryError(Exception):
    """A delivery failed. `retryable`: the same delivery may succeed later (receiver down, 429,
    5xx, timeout); otherwise only a fix (URL, receiver, settings) helps, and retrying is pointless.
    The message says what went wrong and what to do; it never holds a secret or a full URL (a
    Slack webhook's path is its credential)."""

    def __init__(self, message: str, *, retryable: bool, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.retry_after_s = retry_after_s  # the receiver's Retry-After, when it gave one


@dataclass(frozen=True)
class Delivery:
    """What to send: the alert(s), the idempotency key receivers deduplicate on, and the rendered
    title and plain text (every channel renders from the same helpers, in render.py)."""
    alerts: tuple[Alert, ...]
    idempotency_key: str
    title: str
    text: str
    digest: bool = False

    @classmethod
    def single(cls, alert: Alert) -> Delivery:
        return cls((alert,), alert.id, render.title((alert,), digest=False), render.text((alert,), digest=False))

    @classmethod
    def of_digest(cls, alerts: list[Alert] | tuple[Alert, ...]) -> Delivery:
        """The alerts of one throttle key folded into one message. Its key is a hash of the alert ids
        (order-free), so resending the same digest after a crash carries the same key."""
        alerts = tuple(alerts)
        if not alerts:
            raise ValueError("a digest needs at least one alert")
        if len({a.subscription_id for a in alerts}) > 1:
            raise ValueError("a digest folds the alerts of one subscription; these belong to several")
        return cls(alerts, digest_id(a.id for a in alerts), render.title(alerts, digest=True),
                   render.text(alerts, digest=True), digest=True)

    def payload(self) -> dict:
        """The JSON document webhooks and Kafka topics receive: the alert as stored (the Alert model,
        which holds no secret), or for a digest an envelope listing its alerts."""
        if not self.digest:
            return self.alerts[0].model_dump(mode="json")
        first = self.alerts[0]
        return {"kind": "digest", "id": self.idempotency_key, "subscription_id": first.subscription_id,
                "owner": first.owner, "subscription_name": first.subscription_name, "count": len(self.alerts),
                "alerts": [a.model_dump(mode="json") for a in self.alerts]}

    def body(self) -> bytes:
        return json.dumps(self.payload(), ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class Channel(Protocol):
    kind: str     # "webhook", "slack", "email", "kafka"
    target: str   # where it delivers, safe to log and store: no secret, no URL path

    def send(self, message: Delivery) -> None:
        """Deliver, or raise DeliveryError."""

    def close(self) -> None:
        """Release what the channel holds (a Kafka producer it opened)."""


def channel_for(channel: ChannelModel, settings: Settings, *, kafka_producer: SharedProducer | None = None) -> Channel:
    """The sender for one of a subscription's channels. The modules are imported here, not at the
    top: they import this module, and a webhook-only worker need not load kafka-python."""
    if channel.type == "webhook":
        from .webhook import WebhookSender
        return WebhookSender(channel, settings.alerts)
    if channel.type == "slack":
        from .slack import SlackSender
        return SlackSender(channel, settings.alerts)
    if channel.type == "email":
        from .email import EmailSender
        return EmailSender(channel, settings.alerts)
    if channel.type == "kafka":
        from .kafka_topic import KafkaTopicSender
        return KafkaTopicSender(channel, settings.kafka, settings.alerts.kafka_timeout_s, producer=kafka_producer)
    raise ValueError(f"unknown channel type {channel.type!r}: expected webhook, slack, email or kafka")


class Channels:
    """A worker's senders: channel_for, with one Kafka producer shared by every Kafka channel
    (opening a producer costs a broker round trip). Close it when the worker stops.

    The senders may be used from several threads at once: webhook, Slack and e-mail senders hold
    only their settings and open a connection per send; Kafka senders share the thread-safe
    producer. The lock keeps two threads from opening two shared producers."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._producer: SharedProducer | None = None
        self._lock = threading.Lock()

    def for_channel(self, channel: ChannelModel) -> Channel:
        producer = self._shared_producer() if channel.type == "kafka" else None
        return channel_for(channel, self.settings, kafka_producer=producer)

    def _shared_producer(self) -> SharedProducer:
        with self._lock:
            if self._producer is None:
                from .kafka_topic import SharedProducer
                self._producer = SharedProducer(self.settings.kafka, self.settings.alerts.kafka_timeout_s)
            return self._producer

    def close(self) -> None:
        with self._lock:
            if self._producer is not None:
                self._producer.close()
                self._producer = None
