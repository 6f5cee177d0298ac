"""The worker's Prometheus metrics, scraped over HTTP from the real pipeline after real items
flowed through it (real Kafka, real OpenSearch)."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from newswatch.connectors import kafka

from .conftest import REPO_DIR, news_item, settings_env, wait_for

SENTENCES = [
    "Government warplanes carried out airstrikes on rebel positions near the town.",
    "The two sides agreed to extend the ceasefire for another month.",
    "The army sent reinforcements and tanks to the border.",
]


def free_port() -> int:
    """A port nobody listens on now, so that parallel test runs do not clash on the default 9464."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def scrape(port: int) -> dict[tuple[str, frozenset], float]:
    """{(sample name, labels): value}, or {} while nothing answers."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text = response.read().decode("utf-8")
    except OSError:
        return {}
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def total(samples: dict, name: str, **labels: str) -> float:
    return sum(v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= ls)


def all_committed(settings) -> bool:
    ends = kafka.end_offsets(settings.kafka, settings.kafka.topic)
    committed = kafka.committed_offsets(settings.kafka, settings.kafka.topic)
    return all((committed.get(p) or 0) >= end for p, end in ends.items())


def test_worker_serves_counters_histograms_and_lag_after_items_flowed(settings, pipeline):
    port = settings.pipeline.metrics_port = free_port()
    proc = pipeline()
    good = [news_item(f"metrics-{i}", SENTENCES[i % len(SENTENCES)]) for i in range(6)]
    bad = [b"{not json", json.dumps({"id": "no-url", "text": "hello"}).encode()]
    kafka.produce(settings.kafka, good + bad)
    wait_for(lambda: all_committed(settings), 180, "every message committed", proc)
    wait_for(lambda: total(scrape(port), "newswatch_items_indexed_total") == len(good), 30,
             "the indexed counter on /metrics", proc)
    m = wait_for(lambda: (lambda s: s if sum(1 for n, _ in s if n == "newswatch_consumer_lag") == 3 and
                          total(s, "newswatch_consumer_lag") == 0 else None)(scrape(port)),
                 30, "a lag of 0 on each of the 3 partitions", proc)

    topic = settings.kafka.topic
    assert total(m, "newswatch_items_read_total", topic=topic) == len(good) + len(bad)
    assert {dict(ls)["partition"] for n, ls in m if n == "newswatch_items_read_total"} <= {"0", "1", "2"}
    assert total(m, "newswatch_items_dead_lettered_total", reason="bad_json", stage="validate") == 1
    assert total(m, "newswatch_items_dead_lettered_total", reason="schema", stage="validate") == 1
    assert total(m, "newswatch_stage_seconds_count", stage="validate") == len(good) + len(bad)
    for stage in ("language", "normalize", "tagging", "geo", "documents"):
        assert total(m, "newswatch_stage_seconds_count", stage=stage) == len(good), stage
        assert total(m, "newswatch_stage_seconds_sum", stage=stage) > 0, stage
    for stage in ("match", "write"):  # one observation per batch
        assert 1 <= total(m, "newswatch_stage_seconds_count", stage=stage) <= len(good), stage
    assert total(m, "newswatch_bulk_seconds_count") >= 1
    assert ("newswatch_alerts_produced_total", frozenset()) in m  # no subscriptions here: 0, but exported
    assert m[("newswatch_pipeline_info", frozenset({"topic": topic, "group_id": settings.kafka.group_id,
                                                    "runner": "prism"}.items()))] == 1

    # `newswatch replay` sees this pipeline through its metrics and will not rewind under it
    refused = subprocess.run([sys.executable, "-m", "newswatch.pipelines.cli", "replay", "--from-offset", "0:0", "--yes"],
                             env=settings_env(settings), cwd=REPO_DIR, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert f"newswatch: a newswatch pipeline of consumer group {settings.kafka.group_id}" in refused.stderr
    assert f"is running (its metrics answer on 127.0.0.1:{port})" in refused.stderr
