"""Subscriptions as the CLI and the API manage them: validated, checked, stored with their query.

One place for the rules that hold however a subscription is made: webhook targets pass the same
SSRF check as the delivery worker, every webhook gets an HMAC key, and the stored percolator
query is built from the subscription by `matching.subscription_query`.
"""
from __future__ import annotations

import secrets
import time

from pydantic import SecretStr

from newswatch.pipelines.model import Subscription, WebhookChannel
from newswatch.pipelines.settings import Settings

from .matching import subscription_query


class SubscriptionError(ValueError):
    """A subscription that cannot be stored as given; the message says what to change."""


class SubscriptionService:
    def __init__(self, settings: Settings) -> None:
        from newswatch.connectors.search import SearchBackend
        from newswatch.connectors.subscriptions import SubscriptionStore

        self.settings = settings
        self.backend = SearchBackend(settings.search)
        self.store = SubscriptionStore(self.backend)

    def check_targets(self, sub: Subscription) -> None:
        from newswatch.connectors.channels.ssrf import RefusedURL, check_url

        for channel in sub.channels:
            if channel.type in ("webhook", "slack"):
                try:
                    check_url(channel.url, self.settings.alerts.allowed_networks)
                except RefusedURL as err:
                    raise SubscriptionError(str(err)) from err

    def save(self, sub: Subscription) -> tuple[Subscription, dict[int, str]]:
        """Stores (creates or replaces) the subscription. Returns it with the webhook keys that
        were generated for channels that had none: {channel index: key}, for the caller to hand
        to the user once."""
        self.check_targets(sub)
        generated: dict[int, str] = {}
        channels = []
        for i, channel in enumerate(sub.channels):
            if isinstance(channel, WebhookChannel) and channel.secret is None:
                generated[i] = secrets.token_urlsafe(32)
                channel = channel.model_copy(update={"secret": SecretStr(generated[i])})
            channels.append(channel)
        stored = sub.model_copy(update={"channels": channels,
                                        "created_at": sub.created_at or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
        if not self.backend.has_percolator():
            raise SubscriptionError(f"the search engine at {self.settings.search.url} has no percolator module, "
                                    "which stores subscriptions: use OpenSearch or a full Elasticsearch distribution")
        self.store.put(stored, subscription_query(stored), has_text_query=bool(stored.query))
        return stored, generated

    def get(self, sub_id: str, owner: str | None = None) -> Subscription | None:
        sub = self.store.get(sub_id)
        return sub if sub is not None and (owner is None or sub.owner == owner) else None

    def list(self, owner: str | None = None) -> list[Subscription]:
        return self.store.all(owner)

    def delete(self, sub_id: str, owner: str | None = None) -> bool:
        return self.get(sub_id, owner) is not None and self.store.delete(sub_id)

    def would_have_alerted(self, sub: Subscription, days: float = 7, size: int = 50) -> list[dict]:
        """The events of the last `days` this subscription would have alerted: its own query run
        on the events index (the same query the percolator stores)."""
        query = subscription_query(sub)
        query["bool"]["filter"].append({"range": {"ingested_at": {"gte": f"now-{int(days * 24 * 60)}m"}}})
        body = {"size": size, "query": query, "sort": [{"ingested_at": "desc"}, {"id": "asc"}]}
        hits = self.backend.search(self.settings.search.events_index, body)["hits"]["hits"]
        return [h["_source"] for h in hits]
