"""A surge rule fires once, through its channel, when the events that cross its threshold flow
through the real pipeline and the delivery worker."""
from __future__ import annotations

import json
import time

from newswatch.connectors import kafka

from .conftest import news_item, wait_for
from .test_delivery import STRIKE, receiver, worker  # noqa: F401 - fixtures

RULES = """version: 1
rules:
  - id: strikes-near-aleppo
    name: "3 offensive events within 100 km of Aleppo in an hour"
    kind: count
    types: [offensive]
    near: {{lat: 36.2, lon: 37.16}}
    radius_km: 100
    min_count: 3
    window_minutes: 60
    channels: [{{type: webhook, url: "{url}"}}]
    realert_s: 0
"""


def test_a_count_rule_fires_once_when_its_threshold_is_crossed(settings, pipeline, worker, receiver, tmp_path):  # noqa: F811
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES.format(url=receiver.url()))
    settings.alerts.rules_file = rules
    proc = pipeline()
    worker()
    kafka.produce(settings.kafka, [news_item(f"s{i}", STRIKE) for i in range(2)])
    time.sleep(15)
    assert not receiver.received, "two events are below the threshold of three"
    kafka.produce(settings.kafka, [news_item(f"s{i}", STRIKE) for i in range(2, 6)])
    wait_for(lambda: receiver.received, 120, "the surge alert", proc)
    time.sleep(5)
    assert len(receiver.received) == 1  # once per window, however many more events arrive
    alert = json.loads(receiver.received[0].body)
    assert alert["kind"] == "surge" and alert["subscription_id"] == "surge-strikes-near-aleppo"
