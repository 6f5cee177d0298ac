"""The alerts index as the delivery worker's durable memory: one document per alert id with its
delivery status. Recording an alert here before committing its Kafka offset is what keeps a
restarted worker from sending it again."""
from __future__ import annotations

from collections.abc import Iterable

from .search import SearchBackend, SearchError

PAGE = 1000


class AlertRecords:
    def __init__(self, backend: SearchBackend) -> None:
        self.backend = backend
        self.index = backend.settings.alerts_index

    def existing(self, ids: Iterable[str]) -> dict[str, dict]:
        found = self.backend.mget(self.index, sorted(set(ids)))
        return {doc_id: source for doc_id, source in found.items() if source is not None}

    def save(self, docs: list[dict]) -> None:
        """Durable when this returns (acknowledged by the bulk API); raises SearchError otherwise."""
        if not docs:
            return
        # merged, not replaced: an analyst's acknowledgement and the first decision time stay
        results = self.backend.bulk_index([(self.index, d["id"], d) for d in docs], upsert=True)
        failed = [r for r in results if not r.ok]
        if failed:
            raise SearchError(f"{len(failed)} alert record(s) refused, first: {failed[0].error}", retryable=False)

    def find(self, query: dict, sort: list | None = None, limit: int = 10_000) -> list[dict]:
        out: list[dict] = []
        after = None
        self.backend.refresh(self.index)
        while len(out) < limit:
            body = {"size": min(PAGE, limit - len(out)), "query": query, "sort": (sort or []) + [{"id": "asc"}]}
            if after:
                body["search_after"] = after
            hits = self.backend.search(self.index, body)["hits"]["hits"]
            out.extend(h["_source"] for h in hits)
            if len(hits) < body["size"]:
                break
            after = hits[-1]["sort"]
        return out
