"""End-to-end latency and throughput of the streaming pipeline on the local stack.

Starts the stack if needed (`newswatch stack up`), starts `newswatch run` on a fresh topic, waits
until it is idle, then:
  1. latency: sends items one at a time (spaced) and measures produce -> searchable in the
     articles index (polling `get` every 20 ms), reporting p50/p95/max;
  2. throughput: sends a burst of items and measures the time until all are committed.
Real articles from ../shared/corpus when present, else our own synthetic sentences. Prints
the figures, writes benchmarks/results/pipeline-latest.json and compares with
benchmarks/results/pipeline-baseline.json (`--save-baseline` replaces it).

    .venv/bin/python benchmarks/pipeline_latency.py [--latency-items 30] [--burst 3000]
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from newswatch.connectors import kafka, stack  # noqa: E402
from newswatch.connectors.search import SearchBackend  # noqa: E402
from newswatch.pipelines.settings import KafkaSettings, SearchSettings, load_settings  # noqa: E402
from results_file import save_and_compare  # noqa: E402

CORPUS = HERE.parent.parent / "shared" / "corpus" / "news.jsonl"
SYNTHETIC = [
    "Government warplanes carried out airstrikes on rebel positions near the town.",
    "أرسل الجيش تعزيزات عسكرية إلى الحدود الشمالية بعد اشتباكات مع مسلحين.",
    "The two sides agreed to extend the ceasefire for another month.",
]


def texts(n: int) -> list[str]:
    if CORPUS.exists():
        out = []
        with CORPUS.open(encoding="utf-8") as fh:
            for line in fh:
                out.append(json.loads(line)["text"][:3000])
                if len(out) >= n:
                    break
        return out
    return [" ".join(SYNTHETIC[(i + k) % 3] for k in range(10)) for i in range(n)]


def item(run: str, i: int, text: str) -> bytes:
    return json.dumps({"id": f"{run}-{i}", "url": f"https://bench.invalid/{run}/{i}", "title": "", "text": text,
                       "published_at": None, "source": "benchmark"}, ensure_ascii=False).encode()


def committed_all(ks: KafkaSettings) -> bool:
    ends = kafka.end_offsets(ks, ks.topic)
    done = kafka.committed_offsets(ks, ks.topic)
    return all((done.get(p) or 0) >= e for p, e in ends.items())


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency-items", type=int, default=30)
    parser.add_argument("--burst", type=int, default=3000)
    parser.add_argument("--save-baseline", action="store_true")
    args = parser.parse_args()

    base = load_settings()
    stack.up(base.stack)
    run = f"bench{uuid.uuid4().hex[:6]}"
    ks = KafkaSettings(**{**base.kafka.model_dump(), "topic": f"{run}", "dlq_topic": f"{run}.dlq", "group_id": run})
    ss = SearchSettings(**{**base.search.model_dump(), "articles_index": f"{run}-articles", "events_index": f"{run}-events"})
    kafka.ensure_topics(ks)
    backend = SearchBackend(ss)
    backend.ensure_templates()
    env = {**os.environ, "NEWSWATCH_KAFKA__TOPIC": ks.topic, "NEWSWATCH_KAFKA__DLQ_TOPIC": ks.dlq_topic,
           "NEWSWATCH_KAFKA__GROUP_ID": ks.group_id, "NEWSWATCH_SEARCH__ARTICLES_INDEX": ss.articles_index,
           "NEWSWATCH_SEARCH__EVENTS_INDEX": ss.events_index}
    log = open(base.stack.home / f"{run}.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "newswatch.pipelines.cli", "run"], env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True, cwd=HERE.parent)
    try:
        corpus = texts(args.latency_items + args.burst)
        # warm-up: the first item pays for pipeline start-up and model loading
        kafka.produce(ks, [item(run, -1, corpus[0])])
        while backend.get(ss.articles_index, f"{run}--1") is None:
            time.sleep(0.1)
        producer = kafka.producer(ks)
        latencies = []
        for i in range(args.latency_items):
            sent = time.perf_counter()
            producer.send(ks.topic, item(run, i, corpus[i])).get(timeout=30)
            while backend.get(ss.articles_index, f"{run}-{i}") is None:
                time.sleep(0.02)
            latencies.append(time.perf_counter() - sent)
            time.sleep(0.2)
        producer.close()
        burst = [item(run, 100000 + i, t) for i, t in enumerate(corpus[args.latency_items:])]
        start = time.perf_counter()
        kafka.produce(ks, burst)
        while not committed_all(ks):
            time.sleep(0.2)
        burst_s = time.perf_counter() - start
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
        backend.delete_indices()
    latencies.sort()
    result = {
        "benchmark": "produce -> searchable (latency) and burst throughput, local stack, Prism runner",
        "source": str(CORPUS) if CORPUS.exists() else "synthetic",
        "latency_items": len(latencies),
        "latency_p50_s": round(statistics.median(latencies), 3),
        "latency_p95_s": round(latencies[int(0.95 * (len(latencies) - 1))], 3),
        "latency_max_s": round(latencies[-1], 3),
        "burst_items": len(burst), "burst_seconds": round(burst_s, 2),
        "burst_items_per_s": round(len(burst) / burst_s, 1),
        "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    save_and_compare("pipeline", result, args.save_baseline, lambda r, b: (
        f"vs baseline ({b['when']}): p50 {r['latency_p50_s']}s vs {b['latency_p50_s']}s, "
        f"p95 {r['latency_p95_s']}s vs {b['latency_p95_s']}s, "
        f"burst {r['burst_items_per_s']} vs {b['burst_items_per_s']} items/s"))
    print(f"target: alert-ready within 1 s of arrival -> p95 {'met' if result['latency_p95_s'] <= 1 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
