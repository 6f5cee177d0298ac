"""`newswatch demo`: the main job end to end on the local stack, with the bundled sample news."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from connectors import kafka, stack
from connectors.search import SearchBackend

from .settings import Settings
from .streaming import prepare


def _all_committed(s: Settings, targets: dict[int, int]) -> bool:
    committed = kafka.committed_offsets(s.kafka, s.kafka.topic)
    return all((committed.get(p) or 0) >= end for p, end in targets.items())


def run_demo(s: Settings, sample: Path, timeout_s: float = 300) -> int:
    print(f"1/5 starting Kafka and OpenSearch under {s.stack.home} (the first run downloads them from Maven Central)")
    for c in stack.up(s.stack):
        print(f"    {c.name:<11} 127.0.0.1:{c.port}  pid {c.pid}  {c.rss_mb} MB")
    print("2/5 creating topics and index templates")
    prepare(s)
    backend = SearchBackend(s.search)
    lines = [line for line in sample.read_bytes().splitlines() if line.strip()]
    lines.append(b"")  # an empty message, to show the dead-letter path
    print(f"3/5 sending {len(lines)} sample messages from {sample} to topic {s.kafka.topic}")
    kafka.produce(s.kafka, lines)
    targets = kafka.end_offsets(s.kafka, s.kafka.topic)
    log = s.stack.home / "pipeline-demo.log"
    print(f"4/5 running the pipeline ({s.pipeline.runner} runner; log: {log})")
    started = time.monotonic()
    with log.open("ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "pipelines.cli", "run"], stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        while not _all_committed(s, targets):
            if proc.poll() is not None:
                print(f"the pipeline stopped unexpectedly; see {log}", file=sys.stderr)
                return 1
            if time.monotonic() - started > timeout_s:
                print(f"the pipeline did not finish the sample in {timeout_s:.0f}s; see {log}", file=sys.stderr)
                return 1
            time.sleep(0.5)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=60)
    print(f"    all messages processed and committed in {time.monotonic() - started:.1f}s (including pipeline start-up)")
    _report(s, backend)
    print(f"\nThe stack is still running: search it at {s.search.url} (indices {s.search.articles_index}, "
          f"{s.search.events_index}); `newswatch stack down` stops it.")
    return 0


def _report(s: Settings, backend: SearchBackend) -> None:
    for index in (s.search.articles_index, s.search.events_index):
        backend.refresh(index)
    print("5/5 what was indexed")
    print(f"    articles: {backend.count(s.search.articles_index)}   events: {backend.count(s.search.events_index)}")
    aggs = backend.search(s.search.events_index, {"size": 0, "aggs": {"t": {"terms": {"field": "type"}}}})
    for bucket in aggs["aggregations"]["t"]["buckets"]:
        print(f"    {bucket['key']:<14} {bucket['doc_count']}")
    hits = backend.search(s.search.events_index, {"size": 6, "sort": [{"confidence": "desc"}, {"id": "asc"}]})
    for hit in hits["hits"]["hits"]:
        e = hit["_source"]
        places = ", ".join(p["canonical"] for p in e["locations"]) or "-"
        actors = ", ".join(a["canonical"] for a in e["actors"]) or "-"
        print(f"    [{e['language']}] {e['type']}/{e['subtype']}: «{e['trigger']['text']}»  actors: {actors}  places: {places}"
              f"  (rule {e['rule']}, article {e['article_id']})")
