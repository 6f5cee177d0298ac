"""Kafka channel: the alert JSON (the same document a webhook receives) produced to the
subscription's topic, keyed by the idempotency key, acks=all. Consumers deduplicate on the key;
it is also in the `idempotency-key` header. The broker connection is connectors/kafka.py's
(`client_config`: bootstrap, TLS, SASL), with timeouts from alerts.kafka_timeout_s instead of the
producer's minute-long defaults, so a broker that is down fails one delivery, not the worker."""
from __future__ import annotations

import threading

import kafka.errors
from kafka import KafkaProducer

from newswatch.connectors.kafka import client_config
from newswatch.pipelines.model import KafkaChannel
from newswatch.pipelines.settings import KafkaSettings

from .base import Delivery, DeliveryError


class SharedProducer:
    """One idempotent acks=all producer, opened on first use, shared by the Kafka channels of a
    worker. Thread-safe (KafkaProducer is)."""

    def __init__(self, settings: KafkaSettings, timeout_s: float) -> None:
        self.settings = settings
        self.timeout_s = timeout_s
        self._producer: KafkaProducer | None = None
        self._lock = threading.Lock()

    def get(self) -> KafkaProducer:
        with self._lock:
            if self._producer is None:
                self._producer = self._open()
            return self._producer

    def _open(self) -> KafkaProducer:
        timeout_ms = int(self.timeout_s * 1000)
        try:
            return KafkaProducer(**client_config(self.settings), acks="all", linger_ms=0, retries=5,
                                 max_block_ms=timeout_ms, request_timeout_ms=timeout_ms,
                                 delivery_timeout_ms=timeout_ms + 1000, bootstrap_timeout_ms=timeout_ms,
                                 max_request_size=4 * 1024 * 1024)
        except kafka.errors.KafkaError as err:
            raise DeliveryError(f"cannot reach Kafka at {self.settings.bootstrap} to deliver alerts ({type(err).__name__}): "
                                "check kafka.bootstrap and that the brokers are up; delivery is retried",
                                retryable=True) from None

    def close(self) -> None:
        with self._lock:
            if self._producer is not None:
                self._producer.close(timeout=self.timeout_s)
                self._producer = None


class KafkaTopicSender:
    kind = "kafka"

    def __init__(self, channel: KafkaChannel, settings: KafkaSettings, timeout_s: float,
                 producer: SharedProducer | None = None) -> None:
        self._topic = channel.topic
        self._timeout_s = timeout_s
        self._owns_producer = producer is None
        self._producer = producer or SharedProducer(settings, timeout_s)
        self._bootstrap = settings.bootstrap
        self.target = f"kafka topic {channel.topic} on {settings.bootstrap}"

    def send(self, message: Delivery) -> None:
        producer = self._producer.get()
        key = message.idempotency_key.encode("ascii")
        try:
            future = producer.send(self._topic, key=key, value=message.body(),
                                   headers=[("idempotency-key", key), ("content-type", b"application/json")])
            future.get(timeout=self._timeout_s + 2)  # the producer's own delivery timeout comes first
        except kafka.errors.KafkaTimeoutError:
            raise DeliveryError(f"Kafka at {self._bootstrap} did not acknowledge the alert on topic {self._topic} "
                                f"within {self._timeout_s:g} s (alerts.kafka_timeout_s): check that the topic exists "
                                "(or the brokers create topics) and the brokers are up; delivery is retried",
                                retryable=True) from None
        except kafka.errors.KafkaError as err:
            retryable = bool(getattr(err, "retriable", False))
            raise DeliveryError(f"Kafka at {self._bootstrap} refused the alert on topic {self._topic} "
                                f"({type(err).__name__}: {err})" + ("; delivery is retried" if retryable else
                                ": check the topic's name, size limit and ACLs; it is not retried"),
                                retryable=retryable) from None

    def close(self) -> None:
        if self._owns_producer:
            self._producer.close()
