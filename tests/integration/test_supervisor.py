"""`newswatch run` keeps the stream going: a worker killed outright is restarted, and a record that
kills the worker every time is quarantined as poison (real Kafka, real OpenSearch, real Prism)."""
from __future__ import annotations

import os
import signal
import time

from newswatch.connectors import kafka
from newswatch.pipelines.supervisor import worker_pids

from .conftest import count, news_item, wait_for
from .test_streaming import SENTENCES, _all_committed, _dlq_records

MARKER = "POISON-7f3a"


def _worker_pid(proc) -> int | None:
    pids = worker_pids(proc.proc.pid)
    return pids[0] if pids else None


def test_a_record_that_kills_the_worker_is_quarantined_and_the_stream_goes_on(settings, pipeline, monkeypatch):
    monkeypatch.setenv("NEWSWATCH_TEST_CRASH_MARKER", MARKER)
    good = [news_item(f"g{i}", SENTENCES[i % len(SENTENCES)]) for i in range(30)]
    poison = news_item("poison", f"Artillery shelled the town. {MARKER}")
    # all on partition 0, poison in the middle, so good records lie behind it
    kafka.produce(settings.kafka, good[:15] + [poison] + good[15:], keys=[b"k"] * 31)
    proc = pipeline()
    wait_for(lambda: count(settings, settings.search.articles_index) == 30 and _all_committed(settings), 600,
             "every good item indexed and every offset committed past the poison", proc)
    letters = [d for d in _dlq_records(settings, 1) if d["reason"] == "poison"]
    assert len(letters) == 1 and letters[0]["stage"] == "supervisor" and letters[0]["action"]
    assert proc.alive()
    log = proc.log_tail()
    assert "quarantined" in log


def test_a_worker_killed_outright_is_restarted_without_loss(settings, pipeline):
    proc = pipeline()
    kafka.produce(settings.kafka, [news_item(f"a{i}", SENTENCES[i % len(SENTENCES)]) for i in range(20)])
    wait_for(lambda: count(settings, settings.search.articles_index) == 20, 180, "the first items", proc)
    worker = wait_for(lambda: _worker_pid(proc), 30, "the worker process", proc)
    os.kill(worker, signal.SIGKILL)
    time.sleep(1)
    kafka.produce(settings.kafka, [news_item(f"b{i}", SENTENCES[i % len(SENTENCES)]) for i in range(20)])
    wait_for(lambda: count(settings, settings.search.articles_index) == 40 and _all_committed(settings), 300,
             "the items sent after the kill", proc)
    new_worker = _worker_pid(proc)
    assert proc.alive() and new_worker and new_worker != worker
