"""`newswatch run` keeps the stream going: a worker killed outright is restarted, and a record that
kills the worker every time is quarantined as poison (real Kafka, real OpenSearch, real Prism)."""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from newswatch.connectors import kafka
from newswatch.connectors.search import SearchBackend
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


def _shares(proc) -> dict[int, list[int]]:
    """Each worker process's partitions, from its command line."""
    shares = {}
    for pid in worker_pids(proc.proc.pid):
        try:
            args = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
        except OSError:
            continue
        if "--partitions" in args:
            shares[pid] = [int(p) for p in args[args.index("--partitions") + 1].split(",")]
    return shares


def _two_shares(proc) -> dict[int, list[int]] | None:
    shares = _shares(proc)
    return shares if len(shares) == 2 else None


def _article_ids(settings) -> list[str]:
    backend = SearchBackend(settings.search)
    backend.refresh(settings.search.articles_index)
    body = {"size": 10_000, "_source": False, "query": {"match_all": {}}}
    return [h["_id"] for h in backend.search(settings.search.articles_index, body)["hits"]["hits"]]


def test_two_workers_share_the_partitions_and_a_sigkill_loses_and_repeats_nothing(settings, pipeline):
    settings.pipeline = settings.pipeline.model_copy(update={"workers": 2})
    proc = pipeline()
    items = [news_item(f"w{i}", SENTENCES[i % len(SENTENCES)]) for i in range(400)]
    keys = [f"key-{i}".encode() for i in range(400)]  # keyed, so all three partitions get items
    kafka.produce(settings.kafka, items[:40], keys=keys[:40])
    wait_for(lambda: count(settings, settings.search.articles_index) == 40, 300, "the first items", proc)
    shares = wait_for(lambda: _two_shares(proc), 30, "two worker processes", proc)
    assert sorted(p for share in shares.values() for p in share) == [0, 1, 2]  # disjoint, and all read

    kafka.produce(settings.kafka, items[40:], keys=keys[40:])
    wait_for(lambda: count(settings, settings.search.articles_index) > 60, 300, "more items in flight", proc)
    victim = next(iter(shares))
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: count(settings, settings.search.articles_index) == 400 and _all_committed(settings), 600,
             "every item indexed and committed after the kill", proc)

    ids = _article_ids(settings)
    assert len(ids) == len(set(ids)) == 400  # none lost; none twice (ids are the items' own)
    restarted = wait_for(lambda: _two_shares(proc), 60, "two workers again", proc)
    assert victim not in restarted and proc.alive()
    assert not _dlq_records(settings, 1, timeout_s=5)  # nothing valid was dead-lettered
