"""Subscriptions matched in the stream, on the real pipeline: alerts land on the alerts topic
with deterministic ids, in the same durable write as the documents."""
from __future__ import annotations

import json
import signal
import time

from kafka import KafkaConsumer

from newswatch.connectors import kafka
from newswatch.connectors.search import SearchBackend
from newswatch.pipelines.alerting.service import SubscriptionService
from newswatch.pipelines.model import Subscription, alert_id

from .conftest import count, news_item, wait_for
from .test_streaming import _all_committed

STRIKE = "Government warplanes carried out airstrikes on rebel positions near Aleppo."
TRUCE = "The two sides agreed to extend the ceasefire in Yemen for another month."
BUILDUP = "The army sent reinforcements and tanks to the border near Idlib."


def _alerts(settings, expected: int, timeout_s: float = 120) -> list[dict]:
    consumer = KafkaConsumer(settings.alerts.topic, bootstrap_servers=settings.kafka.bootstrap,
                             auto_offset_reset="earliest", consumer_timeout_ms=1000)
    found: list[dict] = []
    deadline = time.monotonic() + timeout_s
    while len({a["id"] for a in found}) < expected and time.monotonic() < deadline:
        found.extend(json.loads(m.value) for m in consumer)
    consumer.close()
    return found


def _event_ids(settings, article_id: str) -> dict[str, str]:
    backend = SearchBackend(settings.search)
    backend.refresh(settings.search.events_index)
    hits = backend.search(settings.search.events_index, {"query": {"term": {"article_id": article_id}}})
    return {h["_source"]["type"]: h["_id"] for h in hits["hits"]["hits"]}


def test_subscriptions_created_while_running_alert_on_the_events_they_match(settings, pipeline):
    proc = pipeline()
    service = SubscriptionService(settings)
    offensives_in_syria, _ = service.save(Subscription(owner="ana", name="strikes in Syria", types=["offensive"],
                                                       countries=["SY"]))
    near_idlib, _ = service.save(Subscription(owner="ana", name="near Idlib", near={"lat": 35.93, "lon": 36.63},
                                              radius_km=50))
    truce_text, _ = service.save(Subscription(owner="bo", name="Yemen truce", types=["ceasefire"], query="Yemen"))
    never, _ = service.save(Subscription(owner="bo", name="never", types=["ceasefire"], query="Atlantis"))
    time.sleep(2)  # the matcher reloads subscriptions at most every second
    kafka.produce(settings.kafka, [news_item("s", STRIKE), news_item("t", TRUCE), news_item("b", BUILDUP)])
    wait_for(lambda: count(settings, settings.search.articles_index) == 3 and _all_committed(settings), 180,
             "the three items", proc)
    strike, truce, buildup = (_event_ids(settings, f"item-{x}") for x in "stb")
    expected = {alert_id(offensives_in_syria.id, strike["offensive"]),
                alert_id(near_idlib.id, buildup["troop_buildup"]),
                alert_id(truce_text.id, truce["ceasefire"])}
    alerts = _alerts(settings, len(expected))
    assert {a["id"] for a in alerts} == expected
    assert never.id not in {a["subscription_id"] for a in alerts}
    by_sub = {a["subscription_id"]: a for a in alerts}
    assert by_sub[offensives_in_syria.id]["event"]["type"] == "offensive"
    assert by_sub[offensives_in_syria.id]["source_timestamp_ms"] > 0
    assert "text" not in by_sub[truce_text.id]["event"]  # the article text stays in the indices


def test_no_alert_is_lost_when_the_pipeline_is_killed(settings, pipeline):
    service = SubscriptionService(settings)
    sub, _ = service.save(Subscription(owner="ana", name="all offensives", types=["offensive"]))
    n = 300
    kafka.produce(settings.kafka, [news_item(i, STRIKE) for i in range(n)])
    proc = pipeline()
    wait_for(lambda: count(settings, settings.search.articles_index) >= n // 5, 300, "a fifth of the items", proc)
    proc.kill(signal.SIGKILL)
    proc = pipeline()
    wait_for(lambda: count(settings, settings.search.articles_index) == n and _all_committed(settings), 600,
             "every item", proc)
    alerts = _alerts(settings, n)
    ids = {a["id"] for a in alerts}
    assert len(ids) == n  # every event alerted once at least; a replayed record re-sends the same id
    assert {a["subscription_id"] for a in alerts} == {sub.id}
