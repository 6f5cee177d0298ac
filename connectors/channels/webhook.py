"""Webhook channel: the alert as JSON, POSTed and signed.

Headers:
  Idempotency-Key        the alert id (a digest: a hash of its alert ids); the same on every retry
  X-Newswatch-Timestamp  Unix seconds when this attempt was signed
  X-Newswatch-Signature  sha256=<hex HMAC-SHA256, keyed with the subscription's secret, of
                         "<timestamp>.<raw body>">; sent when the subscription has a secret

The timestamp is inside the signed string so that a receiver can refuse old requests (say,
older than 5 minutes) and a captured request cannot be replayed later under a new timestamp.
A receiver verifies over the raw body bytes, before parsing them."""
from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable

from newswatch.pipelines.model import WebhookChannel
from newswatch.pipelines.settings import AlertSettings

from . import safe_http
from .base import Delivery
from .ssrf import safe_origin

IDEMPOTENCY_HEADER = "Idempotency-Key"
TIMESTAMP_HEADER = "X-Newswatch-Timestamp"
SIGNATURE_HEADER = "X-Newswatch-Signature"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


class WebhookSender:
    kind = "webhook"

    def __init__(self, channel: WebhookChannel, settings: AlertSettings, clock: Callable[[], float] = time.time) -> None:
        self._url = channel.url
        self._secret = channel.secret  # a SecretStr: its repr and str are masked
        self._settings = settings
        self._clock = clock
        self.target = safe_origin(channel.url)

    def send(self, message: Delivery) -> None:
        body = message.body()
        timestamp = str(int(self._clock()))
        headers = {IDEMPOTENCY_HEADER: message.idempotency_key, TIMESTAMP_HEADER: timestamp}
        if self._secret is not None:
            headers[SIGNATURE_HEADER] = signature(self._secret.get_secret_value(), timestamp, body)
        response = safe_http.post(self._url, body, headers, what="webhook",
                                  allowed_networks=self._settings.allowed_networks,
                                  timeout_s=self._settings.http_timeout_s)
        safe_http.raise_for_status(response, "webhook")

    def close(self) -> None:
        """Nothing held: each delivery opens and closes its own connection."""
