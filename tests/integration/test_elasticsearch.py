"""The Elasticsearch backend's client path, on a real Elasticsearch node (integ-test distribution,
which lacks analysis-common: the stack installs newswatch's own analysis plugin into it, built from
deploy/stack/elasticsearch-analysis/, so the index templates get the full analysis there too)."""
from __future__ import annotations

import uuid

import pytest

from newswatch.connectors import kafka
from newswatch.connectors.search import SearchBackend, _template
from newswatch.pipelines.alerting.matching import subscription_query
from newswatch.pipelines.model import Subscription
from newswatch.pipelines.settings import SearchSettings

from .conftest import news_item, wait_for

ARABIC = [
    "قصفت الطائرات الحربية مواقع المسلحين قرب إدلب يوم ٢٥ نوفمبر",
    "أعلنت الحكومةُ وقفَ إطلاق النار في المدينة والقرى المجاورة",
    "والمقاتلون يحشدون قواتهم على الحدود الشمالية منذ ٣ أيام",
]
ENGLISH = ["Government warplanes carried out airstrikes on the rebels' positions near Idlib"]


def _es_settings(running) -> SearchSettings:
    tag = uuid.uuid4().hex[:8]
    return SearchSettings(backend="elasticsearch", url=f"http://127.0.0.1:{running.es_http_port}",
                          articles_index=f"nw-{tag}-articles", events_index=f"nw-{tag}-events")


def test_backend_client_path(elasticsearch_running):
    s = _es_settings(elasticsearch_running)
    backend = SearchBackend(s)
    backend.ensure_templates()
    results = backend.bulk_index([(s.articles_index, "a1", {"id": "a1", "title": "t", "text": "hello", "language": "en"}),
                                  (s.articles_index, "a2", {"id": "a2", "not_in_mapping": 1})])
    assert [r.ok for r in results] == [True, False] and "strict" in results[1].error
    backend.refresh(s.articles_index)
    assert backend.count(s.articles_index) == 1
    assert backend.get(s.articles_index, "a1")["text"] == "hello"
    assert backend.get(s.articles_index, "missing") is None
    hits = backend.search(s.articles_index, {"query": {"match": {"text": "hello"}}})["hits"]["hits"]
    assert [h["_id"] for h in hits] == ["a1"]
    backend.delete_indices()


def test_pipeline_writes_to_elasticsearch(elasticsearch_running, settings, pipeline):
    settings.search = _es_settings(elasticsearch_running)
    proc = pipeline()
    kafka.produce(settings.kafka, [news_item("es-1", "Government warplanes carried out airstrikes on rebel positions near Idlib.")])
    backend = SearchBackend(settings.search)
    doc = wait_for(lambda: _get_once_the_shard_is_up(backend, settings.search.articles_index, "item-es-1"), 120,
                   "the article in Elasticsearch", proc)
    assert doc["labels"] == ["offensive"] and doc["language"] == "en"
    backend.delete_indices()


def _get_once_the_shard_is_up(backend: SearchBackend, index: str, doc_id: str) -> dict | None:
    """A just-created index answers 503 (no shard available) until its shard has started, which
    takes seconds on a loaded 2-core machine: that is "not there yet", not a failure."""
    try:
        return backend.get(index, doc_id)
    except Exception as err:  # noqa: BLE001 - the client's ApiError
        if "no_shard_available" in str(err):
            return None
        raise


def _tokens(backend: SearchBackend, text: str, analyzer: str, index: str | None = None) -> list[tuple[str, int]]:
    response = backend.client.indices.analyze(index=index, body={"analyzer": analyzer, "text": text})
    body = response.body if hasattr(response, "body") else response
    return [(t["token"], t["position"]) for t in body["tokens"]]


def test_the_node_has_the_full_analysis_and_the_templates_use_it(elasticsearch_running):
    s = _es_settings(elasticsearch_running)
    backend = SearchBackend(s)
    assert backend.has_arabic_analysis()
    backend.ensure_templates()
    analysis = backend.client.indices.get_settings(index=s.articles_index).body[s.articles_index]["settings"]["index"]["analysis"]
    assert analysis["analyzer"]["nw_arabic"]["filter"] == ["lowercase", "decimal_digit", "arabic_normalization", "arabic_stem"]
    assert analysis["filter"]["nw_english_stem"] == {"type": "stemmer", "language": "light_english"}
    backend.delete_indices()


@pytest.mark.parametrize("analyzer,texts", [("arabic", ARABIC), ("nw_arabic", ARABIC), ("nw_folded", ARABIC),
                                            ("nw_english", ENGLISH)])
def test_analyzers_give_the_same_tokens_as_opensearch(elasticsearch_running, settings, analyzer, texts):
    es_settings = _es_settings(elasticsearch_running)
    es, opensearch = SearchBackend(es_settings), SearchBackend(settings.search)
    es.ensure_templates()
    opensearch.ensure_templates()
    try:
        for text in texts:
            on_es = _tokens(es, text, analyzer, es_settings.articles_index)
            assert on_es == _tokens(opensearch, text, analyzer, settings.search.articles_index)
            # not the plain fallback: the text really is normalized or stemmed
            plain = es.client.indices.analyze(body={"tokenizer": "standard", "filter": ["lowercase"], "text": text})
            assert on_es != [(t["token"], t["position"]) for t in plain.body["tokens"]]
    finally:
        es.delete_indices()


def test_an_arabic_search_finds_what_only_normalization_and_stemming_match(elasticsearch_running):
    s = _es_settings(elasticsearch_running)
    backend = SearchBackend(s)
    backend.ensure_templates()
    plain_index = f"{s.articles_index}-plain"  # the same mapping with the plain fallback analyzers
    backend.client.indices.create(index=plain_index, body=_template("articles", full_analysis=False)["template"])
    article = {"id": "ar1", "title": "غارات على إدلب", "language": "ar",
               "text": "قصفت الطائرات الحربية مواقع المسلحين قرب إدلب"}
    try:
        backend.bulk_index([(index, "ar1", article) for index in (s.articles_index, plain_index)])
        backend.refresh(f"{s.articles_index},{plain_index}")
        # "طائرة" (a plane) finds "الطائرات" (the planes) only by stemming; "ادلب" finds "إدلب" by normalization
        query = {"query": subscription_query(Subscription(owner="analyst", name="planes", query="طائرة ادلب"))}
        assert [h["_id"] for h in backend.search(s.articles_index, query)["hits"]["hits"]] == ["ar1"]
        assert backend.search(plain_index, query)["hits"]["hits"] == []
    finally:
        backend.client.indices.delete(index=plain_index)
        backend.delete_indices()
