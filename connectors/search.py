"""Elasticsearch / OpenSearch behind one small interface.

The official `elasticsearch` client refuses to talk to OpenSearch (it checks the
X-Elastic-Product header) and opensearch-py is not meant for Elasticsearch 8+, so each backend
uses its own client; the rest of newswatch sees only `SearchBackend`.
"""
from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import dataclass
from typing import Any

from pipelines.settings import REPO_DIR, SearchSettings

INDEX_DIR = REPO_DIR / "schemas" / "index"
LOG = logging.getLogger(__name__)
RETRY_STATUSES = {429, 502, 503, 504}


class SearchError(RuntimeError):
    def __init__(self, message: str, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass
class BulkItemResult:
    doc_id: str
    index: str
    ok: bool
    status: int
    error: str | None = None


# Analyzers that need only what every cluster has (standard tokenizer, lowercase): used when
# the cluster lacks the analysis-common module (the Arabic/stemming filters), e.g. Elasticsearch's
# integ-test distribution. Search then works, without Arabic folding and stemming.
_PLAIN_ANALYSIS = {"analysis": {"analyzer": {
    name: {"type": "custom", "tokenizer": "standard", "filter": ["lowercase"]}
    for name in ("nw_arabic", "nw_english", "nw_folded")}}}


def _template(name: str, full_analysis: bool = True) -> dict:
    template = json.loads((INDEX_DIR / f"{name}.template.json").read_text(encoding="utf-8"))
    analysis = json.loads((INDEX_DIR / "analysis.json").read_text(encoding="utf-8")) if full_analysis else _PLAIN_ANALYSIS
    template["template"]["settings"].update(analysis)
    return template


class SearchBackend:
    """Index templates, bulk writes with retries, counts and searches."""

    def __init__(self, settings: SearchSettings) -> None:
        self.settings = settings
        self.client = _make_client(settings)

    # -- setup --------------------------------------------------------------------------------
    def has_arabic_analysis(self) -> bool:
        """Whether the cluster has the analysis-common filters our analyzers use."""
        try:
            self.client.indices.analyze(body={"tokenizer": "standard", "filter": ["arabic_normalization"], "text": "ا"})
            return True
        except Exception as err:  # noqa: BLE001 - both clients raise their own 400 type
            if "arabic_normalization" in str(err) or "filter" in str(err):
                return False
            raise

    def ensure_templates(self) -> None:
        s = self.settings
        full = self.has_arabic_analysis()
        if not full:
            LOG.warning("the cluster at %s lacks the analysis-common module: indexing with plain analyzers "
                        "(no Arabic normalization or stemming in search); install analysis-common for full search", s.url)
        for name, index in (("articles", s.articles_index), ("events", s.events_index)):
            body = _template(name, full)
            body["index_patterns"] = [f"{index}*"]
            self.client.indices.put_index_template(name=f"newswatch-{name}", body=body)
            if not self.client.indices.exists(index=index):
                self.client.indices.create(index=index)

    # -- writes -------------------------------------------------------------------------------
    def bulk_index(self, docs: list[tuple[str, str, dict]]) -> list[BulkItemResult]:
        """Index (index, id, doc) triples. Retries the request, and the items that got 429,
        with exponential backoff; returns one result per input, in order."""
        pending = list(range(len(docs)))
        results: list[BulkItemResult | None] = [None] * len(docs)
        attempt = 0
        while pending:
            body: list[dict] = []
            for i in pending:
                index, doc_id, doc = docs[i]
                body.append({"index": {"_index": index, "_id": doc_id}})
                body.append(doc)
            try:
                response = self._bulk(body)
            except SearchError as err:
                if not err.retryable or attempt >= self.settings.bulk_max_retries:
                    raise
                attempt += 1
                _backoff(attempt)
                continue
            retry = []
            for i, item in zip(pending, response["items"], strict=True):
                info = next(iter(item.values()))
                status = int(info.get("status", 500))
                index, doc_id, _ = docs[i]
                if status < 300:
                    results[i] = BulkItemResult(doc_id, index, True, status)
                elif status in RETRY_STATUSES and attempt < self.settings.bulk_max_retries:
                    retry.append(i)
                else:
                    err = info.get("error")
                    results[i] = BulkItemResult(doc_id, index, False, status, json.dumps(err) if err else f"HTTP {status}")
            pending = retry
            if pending:
                attempt += 1
                _backoff(attempt)
        return [r for r in results if r is not None]

    def _bulk(self, body: list[dict]) -> dict[str, Any]:
        try:
            return _body(self.client.bulk(body=body, refresh="false"))
        except Exception as err:  # transport errors differ between the two clients
            status = _http_status(err)
            if status is not None and status < 500 and status != 429:
                raise SearchError(f"bulk request rejected ({status}): {err}", retryable=False) from err
            raise SearchError(f"bulk request failed: {err}") from err

    # -- reads --------------------------------------------------------------------------------
    def refresh(self, index: str) -> None:
        self.client.indices.refresh(index=index)

    def count(self, index: str, query: dict | None = None) -> int:
        body = {"query": query} if query else None
        return int(_body(self.client.count(index=index, body=body))["count"])

    def search(self, index: str, body: dict) -> dict:
        return _body(self.client.search(index=index, body=body))

    def get(self, index: str, doc_id: str) -> dict | None:
        try:
            return _body(self.client.get(index=index, id=doc_id))["_source"]
        except Exception as err:
            if "404" in str(err) or getattr(err, "status_code", None) == 404:
                return None
            raise

    def delete_indices(self) -> None:
        for index in (self.settings.articles_index, self.settings.events_index):
            if self.client.indices.exists(index=index):
                self.client.indices.delete(index=index)


def _http_status(err: Exception) -> int | None:
    """HTTP status of a client error, or None for connection errors (opensearch-py says 'N/A')."""
    status = getattr(err, "status_code", None) or getattr(getattr(err, "meta", None), "status", None)
    try:
        return int(status)
    except (TypeError, ValueError):
        return None


def _backoff(attempt: int) -> None:
    time.sleep(min(10.0, 0.2 * 2 ** attempt) * (0.5 + random.random() / 2))


def _body(response: Any) -> dict:
    return response.body if hasattr(response, "body") else response


def _make_client(s: SearchSettings):
    auth = (s.username, s.password) if s.username else None
    if s.backend == "opensearch":
        from opensearchpy import OpenSearch

        return OpenSearch(hosts=[s.url], http_auth=auth, timeout=30, http_compress=True)
    from elasticsearch import Elasticsearch

    return Elasticsearch(s.url, basic_auth=auth, request_timeout=30, http_compress=True)
