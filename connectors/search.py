"""Elasticsearch / OpenSearch behind one small interface.

The official `elasticsearch` client refuses to talk to OpenSearch (it checks the
X-Elastic-Product header) and opensearch-py is not meant for Elasticsearch 8+, so each backend
uses its own client; the rest of newswatch sees only `SearchBackend`.
"""
from __future__ import annotations

import json
import logging
import random
import re
import time
from dataclasses import dataclass
from typing import Any

from newswatch.pipelines.settings import REPO_DIR, SearchSettings, api_key_token

from . import metrics

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


def _analysis_filters() -> list[str | dict]:
    """Each token filter the full analysis uses once: a name, or the definition of one of its own."""
    analysis = json.loads((INDEX_DIR / "analysis.json").read_text(encoding="utf-8"))["analysis"]
    own = analysis.get("filter", {})
    names = dict.fromkeys(f for analyzer in analysis["analyzer"].values() for f in analyzer.get("filter", []))
    return [own.get(name, name) for name in names]


def _template(name: str, full_analysis: bool = True) -> dict:
    template = json.loads((INDEX_DIR / f"{name}.template.json").read_text(encoding="utf-8"))
    analysis = json.loads((INDEX_DIR / "analysis.json").read_text(encoding="utf-8")) if full_analysis else _PLAIN_ANALYSIS
    template["template"]["settings"].update(analysis)
    return template


def subscriptions_template(full_analysis: bool = True) -> dict:
    """The events mapping plus the stored subscription and its percolator query: the query is
    parsed against exactly the fields and analyzers it will be run on (what a search finds is
    what alerts)."""
    template = _template("events", full_analysis)
    props = template["template"]["mappings"]["properties"]
    props.update({
        "query": {"type": "percolator"},
        "owner": {"type": "keyword"},
        "subscription_id": {"type": "keyword"},
        "has_text_query": {"type": "boolean"},
        "updated_at": {"type": "date"},
        "subscription": {"type": "object", "enabled": False},
        "secrets": {"type": "object", "enabled": False},
    })
    return template


class SearchBackend:
    """Index templates, bulk writes with retries, counts and searches."""

    def __init__(self, settings: SearchSettings) -> None:
        self.settings = settings
        self.client = _make_client(settings)

    def scrub(self, message: str) -> str:
        """A client's error message with the password or API key cut out, should it hold one."""
        s = self.settings
        for secret in (s.password, s.api_key):
            if secret is not None and secret.get_secret_value():
                message = message.replace(secret.get_secret_value(), "***")
        if s.api_key is not None:
            message = message.replace(api_key_token(s.api_key, strict=False), "***")
        return redact_url(message)

    # -- setup --------------------------------------------------------------------------------
    def has_arabic_analysis(self) -> bool:
        """Whether the cluster has every token filter that schemas/index/analysis.json uses (the
        analysis-common module has them; so does the local Elasticsearch node's own plugin)."""
        try:
            self.client.indices.analyze(body={"tokenizer": "standard", "filter": _analysis_filters(), "text": "ا 1"})
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
                        "(no Arabic normalization or stemming in search); install analysis-common for full search",
                        redact_url(s.url))
        templates = [("articles", s.articles_index, _template("articles", full)),
                     ("events", s.events_index, _template("events", full)),
                     ("alerts", s.alerts_index, _template("alerts", full))]
        if self.has_percolator():
            templates.append(("subscriptions", s.subscriptions_index, subscriptions_template(full)))
        else:
            LOG.warning("the cluster at %s has no percolator module: subscriptions cannot be stored there",
                        redact_url(s.url))
        for name, index, body in templates:
            self._drop_legacy_template(f"newswatch-{name}")
            # the index itself and dated or versioned ones (<index>-2026.12); one template per index
            # name, so two deployments (or tests) with other index names never overwrite each other
            body["index_patterns"] = [index, f"{index}-*"]
            self.client.indices.put_index_template(name=f"{index}-template", body=body)
            if not self.client.indices.exists(index=index):
                self.client.indices.create(index=index)
            else:
                self._add_new_fields(index, body["template"]["mappings"])

    def _add_new_fields(self, index: str, mappings: dict) -> None:
        """An index made by an older newswatch lacks the fields added since; with strict mappings
        every new document would be refused. Adding fields is always allowed; a changed field is not,
        and is reported with what to do."""
        try:
            self.client.indices.put_mapping(index=index, body={"properties": mappings["properties"]})
        except Exception as err:  # noqa: BLE001 - both clients raise their own 400 type
            LOG.warning("the mapping of %s differs from schemas/index/ in a way that cannot be updated in place "
                        "(%s): reindex into a new index, or delete it to start afresh", index, self.scrub(str(err))[:300])

    def _drop_legacy_template(self, name: str) -> None:
        """Before templates were named per index, one named newswatch-<kind> served any index
        name; its wide pattern would clash with the per-index templates."""
        try:
            if self.client.indices.exists_index_template(name=name):
                self.client.indices.delete_index_template(name=name)
        except Exception as err:  # noqa: BLE001 - not fatal: the put below reports a real clash
            LOG.info("could not check legacy template %s: %s", name, self.scrub(str(err)))

    def has_percolator(self) -> bool:
        """Elasticsearch's integ-test distribution lacks the percolator module; real clusters have it.
        Asked of every node's module list (a validate-query probe answers 200 "valid: false" there)."""
        nodes = _body(self.client.nodes.info(metric="plugins"))["nodes"].values()

        def has_it(node: dict) -> bool:  # a module in a distribution; a plugin class in our launcher
            return any("percolator" in m.get("name", "").lower() for m in node.get("modules", []) + node.get("plugins", []))
        return bool(nodes) and all(has_it(n) for n in nodes)

    # -- writes -------------------------------------------------------------------------------
    def bulk_index(self, docs: list[tuple[str, str, dict | None]], upsert: bool = False) -> list[BulkItemResult]:
        """Index (index, id, doc) triples, or delete where doc is None (a missing document is
        already deleted: fine); with `upsert`, merge each doc into the stored one instead of
        replacing it (fields others set, such as an acknowledgement, stay). Retries the request,
        and the items that got 429, with exponential backoff; returns one result per input, in order."""
        pending = list(range(len(docs)))
        results: list[BulkItemResult | None] = [None] * len(docs)
        attempt = 0
        while pending:
            body: list[dict] = []
            for i in pending:
                index, doc_id, doc = docs[i]
                if doc is None:
                    body.append({"delete": {"_index": index, "_id": doc_id}})
                elif upsert:
                    body.append({"update": {"_index": index, "_id": doc_id}})
                    body.append({"doc": doc, "doc_as_upsert": True})
                else:
                    body.append({"index": {"_index": index, "_id": doc_id}})
                    body.append(doc)
            try:
                response = self._bulk(body)
            except SearchError as err:
                if not err.retryable or attempt >= self.settings.bulk_max_retries:
                    raise
                metrics.count_bulk_retry("request")
                attempt += 1
                _backoff(attempt)
                continue
            retry = []
            for i, item in zip(pending, response["items"], strict=True):
                info = next(iter(item.values()))
                status = int(info.get("status", 500))
                index, doc_id, doc = docs[i]
                if status < 300 or (doc is None and status == 404):
                    results[i] = BulkItemResult(doc_id, index, True, status)
                elif status in RETRY_STATUSES and attempt < self.settings.bulk_max_retries:
                    retry.append(i)
                else:
                    err = info.get("error")
                    results[i] = BulkItemResult(doc_id, index, False, status, json.dumps(err) if err else f"HTTP {status}")
            pending = retry
            if pending:
                metrics.count_bulk_retry("documents")
                attempt += 1
                _backoff(attempt)
        return [r for r in results if r is not None]

    def _bulk(self, body: list[dict]) -> dict[str, Any]:
        try:
            with metrics.bulk_timer():
                return _body(self.client.bulk(body=body, refresh="false"))
        except Exception as err:  # transport errors differ between the two clients
            status = _http_status(err)
            if status is not None and status < 500 and status != 429:
                raise SearchError(f"bulk request rejected ({status}): {self.scrub(str(err))}", retryable=False) from err
            raise SearchError(f"bulk request failed: {self.scrub(str(err))}") from err

    # -- reads --------------------------------------------------------------------------------
    def reachable(self) -> bool:
        try:
            return bool(self.client.ping())
        except Exception:  # noqa: BLE001 - either client's connection errors
            return False

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

    def mget(self, index: str, ids: list[str], fields: list[str] | None = None) -> dict[str, dict | None]:
        """Real-time reads (no refresh needed): {id: source, or None when there is no such document}."""
        if not ids:
            return {}
        docs = [{"_id": i, **({"_source": fields} if fields is not None else {})} for i in ids]
        found = _body(self.client.mget(index=index, body={"docs": docs}))["docs"]
        return {d["_id"]: (d.get("_source") if d.get("found") else None) for d in found}

    def delete_indices(self) -> None:
        s = self.settings
        for index in (s.articles_index, s.events_index, s.alerts_index, s.subscriptions_index):
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
    """A client with the settings' TLS checks and credentials. The url never carries credentials
    (the settings move them to username/password), so client errors that name it are safe."""
    if s.backend == "opensearch":
        from opensearchpy import OpenSearch

        return OpenSearch(hosts=[s.url], timeout=30, http_compress=s.http_compress, **_tls_options(s), **_opensearch_auth(s))
    from elasticsearch import Elasticsearch

    return Elasticsearch(s.url, request_timeout=30, http_compress=s.http_compress, **_tls_options(s), **_elasticsearch_auth(s))


def _tls_options(s: SearchSettings) -> dict:
    """Both clients take the same names. Verifying the certificate also verifies the host name."""
    if not s.url.lower().startswith("https://"):
        return {}
    options: dict = {"verify_certs": s.verify_certs}
    if s.ca_certs is not None:
        options["ca_certs"] = str(s.ca_certs)
    if not s.verify_certs:
        options["ssl_show_warn"] = False  # the user chose it; one warning per request would flood the log
    return options


def _opensearch_auth(s: SearchSettings) -> dict:
    if s.api_key is not None:  # opensearch-py has no api_key option: the same header Elasticsearch uses
        return {"headers": {"authorization": f"ApiKey {api_key_token(s.api_key, strict=False)}"}}
    if s.username is not None:
        return {"http_auth": (s.username, s.password.get_secret_value())}
    return {}


def _elasticsearch_auth(s: SearchSettings) -> dict:
    if s.api_key is not None:
        return {"api_key": api_key_token(s.api_key)}
    if s.username is not None:
        return {"basic_auth": (s.username, s.password.get_secret_value())}
    return {}


_URL_CREDENTIALS = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s@]+@")


def redact_url(text: str) -> str:
    """A url, or a message holding urls, without their user:password parts."""
    return _URL_CREDENTIALS.sub(r"\g<scheme>***@", text)
