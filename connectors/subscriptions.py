"""Subscriptions in the search engine: one document each, holding the subscription, its
percolator query (built by the caller from pipelines/alerting/matching.py) and its channel
secrets (stored, never returned by `list`/`get` unless asked, never logged)."""
from __future__ import annotations

import time
from collections.abc import Iterable

from newswatch.pipelines.model import Subscription

from .search import SearchBackend

PAGE = 1000
PAGE_LIMIT = 10_000  # the engines' default index.max_result_window


class SubscriptionStore:
    def __init__(self, backend: SearchBackend) -> None:
        self.backend = backend
        self.index = backend.settings.subscriptions_index
        self.client = backend.client

    def put(self, sub: Subscription, query: dict, has_text_query: bool) -> None:
        """Stored and searchable at once (refresh), so the stream sees it within its next reload."""
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        secrets = {str(i): c.secret.get_secret_value() for i, c in enumerate(sub.channels)
                   if getattr(c, "secret", None) is not None}
        doc = {"query": query, "owner": sub.owner, "subscription_id": sub.id, "has_text_query": has_text_query,
               "updated_at": now, "subscription": sub.model_dump(mode="json"), "secrets": secrets}
        self.client.index(index=self.index, id=sub.id, body=doc, refresh="true")

    def delete(self, sub_id: str) -> bool:
        try:
            self.client.delete(index=self.index, id=sub_id, refresh="true")
            return True
        except Exception as err:  # noqa: BLE001 - both clients' NotFoundError
            if "404" in str(err) or getattr(err, "status_code", None) == 404:
                return False
            raise

    def get(self, sub_id: str, with_secrets: bool = False) -> Subscription | None:
        doc = self.backend.get(self.index, sub_id)
        return _subscription(doc, with_secrets) if doc else None

    def all(self, owner: str | None = None, with_secrets: bool = False) -> list[Subscription]:
        query = {"term": {"owner": owner}} if owner else {"match_all": {}}
        return [_subscription(src, with_secrets) for src in self._scan(query)]

    def version(self) -> tuple[int, str | None]:
        """(how many, latest update): changes whenever a subscription is added, changed or removed."""
        self.backend.refresh(self.index)
        body = {"size": 0, "track_total_hits": True, "aggs": {"latest": {"max": {"field": "updated_at"}}}}
        result = self.backend.search(self.index, body)
        total = result["hits"]["total"]
        return (total["value"] if isinstance(total, dict) else int(total),
                result["aggregations"]["latest"].get("value_as_string"))

    def percolate(self, documents: list[dict], sub_ids: Iterable[str]) -> dict[int, set[str]]:
        """Which of the given subscriptions each document matches: {document slot: subscription ids}."""
        ids = sorted(set(sub_ids))
        found: dict[int, set[str]] = {}
        if not documents:
            return found
        for start in range(0, len(ids), PAGE_LIMIT):  # a search returns at most 10,000 hits
            chunk = ids[start:start + PAGE_LIMIT]
            body = {"size": len(chunk), "_source": False, "query": {"bool": {
                "filter": [{"percolate": {"field": "query", "documents": documents}}, {"ids": {"values": chunk}}]}}}
            for hit in self.backend.search(self.index, body)["hits"]["hits"]:
                for slot in hit.get("fields", {}).get("_percolator_document_slot", []):
                    found.setdefault(int(slot), set()).add(hit["_id"])
        return found

    def _scan(self, query: dict) -> Iterable[dict]:
        after = None
        while True:
            body = {"size": PAGE, "query": query, "sort": [{"subscription_id": "asc"}]}
            if after:
                body["search_after"] = after
            hits = self.backend.search(self.index, body)["hits"]["hits"]
            yield from (h["_source"] for h in hits)
            if len(hits) < PAGE:
                return
            after = hits[-1]["sort"]


def _subscription(doc: dict, with_secrets: bool) -> Subscription:
    data = dict(doc["subscription"])
    if with_secrets:
        data["channels"] = [dict(c, secret=doc.get("secrets", {}).get(str(i))) if c.get("type") == "webhook" else c
                            for i, c in enumerate(data["channels"])]
    return Subscription.model_validate(data)
