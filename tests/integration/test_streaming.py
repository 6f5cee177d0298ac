"""End to end on a real Kafka broker and a real OpenSearch node: nothing mocked."""
from __future__ import annotations

import json
import random
import signal
import time

from kafka import KafkaConsumer

from newswatch.connectors import kafka
from newswatch.connectors.search import SearchBackend

from .conftest import REPO_DIR, count, news_item, wait_for

SENTENCES = [
    "Government warplanes carried out airstrikes on rebel positions near the town.",
    "The two sides agreed to extend the ceasefire for another month.",
    "The army sent reinforcements and tanks to the border.",
    "The central bank kept interest rates unchanged on Tuesday.",
    "شنت الطائرات الحربية غارات على مواقع المسلحين شمال المدينة.",
    "أرسل الجيش تعزيزات عسكرية إلى الحدود الشمالية.",
    "أعلن الطرفان التوصل إلى هدنة لمدة شهر.",
    "افتتح الوزير معرضا للكتاب في العاصمة.",
]


def _seed_article(shared: bool) -> str:
    path = REPO_DIR.parent / "shared" / "samples" / "seed_article_ar.txt"
    if shared and path.exists():
        return path.read_text(encoding="utf-8")
    return (REPO_DIR / "tests" / "fixtures" / "article_ar.txt").read_text(encoding="utf-8")


def test_article_is_tagged_and_indexed_within_seconds(settings, pipeline):
    proc = pipeline()
    text = _seed_article(shared=True)
    sent = time.monotonic()
    kafka.produce(settings.kafka, [news_item("seed", text)])
    backend = SearchBackend(settings.search)
    doc = wait_for(lambda: backend.get(settings.search.articles_index, "item-seed"), 120, "the article", proc)
    latency = time.monotonic() - sent
    assert doc["language"] == "ar"
    assert "الولاياتالمتحدة" not in doc["text"] and "الولايات المتحدة" in doc["text"]
    assert set(doc["labels"]) == {"offensive", "ceasefire", "troop_buildup"}
    backend.refresh(settings.search.events_index)
    events = backend.search(settings.search.events_index,
                            {"query": {"term": {"article_id": "item-seed"}}, "size": 100})["hits"]["hits"]
    assert events and {e["_source"]["type"] for e in events} == {"offensive", "ceasefire", "troop_buildup"}
    for e in events:
        src = e["_source"]
        assert text[src["trigger"]["start"]:src["trigger"]["end"]] == src["trigger"]["text"]
    print(f"seed article indexed {latency:.1f}s after it was produced (pipeline started just before)")


def _dlq_records(settings, n: int, timeout_s: float = 90) -> list[dict]:
    consumer = KafkaConsumer(settings.kafka.dlq_topic, bootstrap_servers=settings.kafka.bootstrap,
                             auto_offset_reset="earliest", consumer_timeout_ms=1000)
    found: list[dict] = []
    deadline = time.monotonic() + timeout_s
    while len(found) < n and time.monotonic() < deadline:
        found.extend(json.loads(m.value) for m in consumer)
    consumer.close()
    return found


def test_bad_input_goes_to_the_dead_letter_topic_and_the_stream_goes_on(settings, pipeline):
    proc = pipeline()
    big = "x" * (settings.pipeline.max_item_bytes + 10)
    bad = {
        b"{not json": "bad_json",
        b"\xff\xfe\xfa not utf-8": "bad_utf8",
        json.dumps({"id": "no-url", "text": "hello"}).encode(): "schema",
        news_item("blank", "   "): "schema",
        news_item("huge", big): "too_large",
        b"": "empty",
    }
    good = [news_item(f"good-{i}", SENTENCES[i % len(SENTENCES)]) for i in range(6)]
    values = list(bad) + good
    random.Random(3).shuffle(values)
    kafka.produce(settings.kafka, values)
    wait_for(lambda: count(settings, settings.search.articles_index) == len(good), 120, "the valid items", proc)
    letters = _dlq_records(settings, len(bad))
    assert sorted(d["reason"] for d in letters) == sorted(bad.values())
    import base64

    by_original = {base64.b64decode(d["original_b64"]): d for d in letters}
    for raw, reason in bad.items():
        letter = by_original[raw]
        assert letter["reason"] == reason and letter["error"] and letter["source"]["topic"] == settings.kafka.topic
    assert proc.alive()
    # the stream goes on after the bad items
    kafka.produce(settings.kafka, [news_item("after", SENTENCES[0])])
    wait_for(lambda: count(settings, settings.search.articles_index) == len(good) + 1, 60, "an item after the bad ones", proc)


def _all_committed(settings) -> bool:
    ends = kafka.end_offsets(settings.kafka, settings.kafka.topic)
    committed = kafka.committed_offsets(settings.kafka, settings.kafka.topic)
    return all((committed.get(p) or 0) >= end for p, end in ends.items())


def test_no_loss_no_duplicates_across_replay_and_sigkill(settings, pipeline):
    n = 10_000
    rng = random.Random(11)
    values = [news_item(i, " ".join(rng.choice(SENTENCES) for _ in range(3))) for i in range(n)]
    kafka.produce(settings.kafka, values)
    articles = settings.search.articles_index

    # 1) kill -9 mid-stream, restart: nothing lost, nothing twice
    proc = pipeline()
    wait_for(lambda: count(settings, articles) >= n // 4, 600, "a quarter of the items", proc)
    proc.kill(signal.SIGKILL)
    killed_at = count(settings, articles)
    assert killed_at < n, "the pipeline finished before it could be killed mid-stream"
    proc = pipeline()
    wait_for(lambda: count(settings, articles) == n and _all_committed(settings), 900, f"all {n} articles", proc)
    assert count(settings, articles) == n
    events = count(settings, settings.search.events_index)
    assert events > n  # every synthetic item reports at least one event, most several
    proc.kill(signal.SIGTERM)

    # 2) replay from offset 0: every document overwritten, still exactly n
    kafka.reset_group(settings.kafka, settings.kafka.topic)
    proc = pipeline()
    wait_for(lambda: _all_committed(settings), 900, "the replay to finish", proc)
    assert count(settings, articles) == n
    assert count(settings, settings.search.events_index) == events  # events overwritten, not added
    ids = SearchBackend(settings.search).search(articles, {"size": 0, "aggs": {"ids": {"cardinality": {"field": "id"}}}})
    assert ids["aggregations"]["ids"]["value"] >= n * 0.99  # cardinality is approximate; count() is exact


def test_search_engine_outage_pauses_the_stream_without_loss(settings, pipeline, running_stack):
    """Runs last in this file: it stops and restarts the shared OpenSearch node."""
    from newswatch.connectors import stack

    proc = pipeline()
    kafka.produce(settings.kafka, [news_item("before", SENTENCES[0])])
    wait_for(lambda: count(settings, settings.search.articles_index) == 1, 120, "the first article", proc)
    stack.stop(running_stack, "opensearch")
    try:
        kafka.produce(settings.kafka, [news_item(f"during-{i}", SENTENCES[i % len(SENTENCES)]) for i in range(20)])
        time.sleep(8)
        assert proc.alive(), "the pipeline must wait for the search engine, not die"
        assert not _all_committed(settings), "nothing may be committed while it cannot be indexed"
    finally:
        stack.start_opensearch(running_stack)
    wait_for(lambda: count(settings, settings.search.articles_index) == 21 and _all_committed(settings), 180,
             "the items produced during the outage", proc)
