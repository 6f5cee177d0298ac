"""The Elasticsearch backend's client path, on a real Elasticsearch node (integ-test distribution:
no analysis-common module, so the plain-analyzer fallback is exercised too)."""
from __future__ import annotations

import uuid

from newswatch.connectors import kafka
from newswatch.connectors.search import SearchBackend
from newswatch.pipelines.settings import SearchSettings

from .conftest import news_item, wait_for


def _es_settings(running) -> SearchSettings:
    tag = uuid.uuid4().hex[:8]
    return SearchSettings(backend="elasticsearch", url=f"http://127.0.0.1:{running.es_http_port}",
                          articles_index=f"nw-{tag}-articles", events_index=f"nw-{tag}-events")


def test_backend_client_path(elasticsearch_running):
    s = _es_settings(elasticsearch_running)
    backend = SearchBackend(s)
    assert not backend.has_arabic_analysis()
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
    doc = wait_for(lambda: backend.get(settings.search.articles_index, "item-es-1"), 120, "the article in Elasticsearch", proc)
    assert doc["labels"] == ["offensive"] and doc["language"] == "en"
    backend.delete_indices()
