"""An article processed again holds exactly its new events: stale ones go in the same write."""
from __future__ import annotations

from newswatch.connectors import kafka
from newswatch.connectors.search import SearchBackend

from .conftest import news_item, wait_for
from .test_streaming import _all_committed

TWO_EVENTS = "Warplanes carried out airstrikes near Aleppo. The army sent reinforcements to the border."
ONE_EVENT = "Warplanes carried out airstrikes near Aleppo. The minister opened a school."


def _events_of(settings, article_id: str) -> set[str]:
    backend = SearchBackend(settings.search)
    backend.refresh(settings.search.events_index)
    hits = backend.search(settings.search.events_index, {"query": {"term": {"article_id": article_id}}, "size": 50})
    return {h["_id"] for h in hits["hits"]["hits"]}


def test_a_reprocessed_article_keeps_only_its_new_events(settings, pipeline):
    proc = pipeline()
    kafka.produce(settings.kafka, [news_item("x", TWO_EVENTS)])
    wait_for(lambda: len(_events_of(settings, "item-x")) == 2 and _all_committed(settings), 120, "two events", proc)
    first = _events_of(settings, "item-x")
    kafka.produce(settings.kafka, [news_item("x", ONE_EVENT)])  # the same article, as the rules now see it
    wait_for(lambda: _all_committed(settings) and len(_events_of(settings, "item-x")) == 1, 120, "one event", proc)
    (kept,) = _events_of(settings, "item-x")
    assert kept in first and kept.endswith(":offensive")
    article = SearchBackend(settings.search).get(settings.search.articles_index, "item-x")
    assert article["event_ids"] == [kept]


def test_events_of_an_article_indexed_before_event_ids_are_replaced(settings, pipeline):
    """Articles written by an older newswatch do not list their events: found by article_id."""
    from newswatch.pipelines.streaming import prepare

    prepare(settings)
    backend = SearchBackend(settings.search)
    legacy_event = {"id": "item-y:0:offensive:aleppo", "article_id": "item-y", "type": "offensive"}
    backend.bulk_index([(settings.search.articles_index, "item-y", {"id": "item-y", "title": "old"}),
                        (settings.search.events_index, legacy_event["id"], legacy_event)])
    proc = pipeline()
    kafka.produce(settings.kafka, [news_item("y", ONE_EVENT)])
    wait_for(lambda: _all_committed(settings) and legacy_event["id"] not in _events_of(settings, "item-y"), 120,
             "the legacy event to be replaced", proc)
    assert len(_events_of(settings, "item-y")) == 1
