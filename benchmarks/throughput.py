"""Throughput of the pipeline against a raw copy, on the same stack and the same N articles, in one run.

  (a) raw copy, written here: a kafka-python consumer in a consumer group reads the news topic
      (3 partitions), each poll becomes one bulk request of the raw items into one index with a
      dynamic mapping (opensearch-py's helpers.bulk), and the offsets are committed after each
      acknowledged bulk. No validation, no NLP, no events, no dead letters, no alerts.
  (b) the full pipeline: `newswatch run` (Prism) with the production indices (analyzers, the
      events index, the DLQ) and `--subscriptions` stored subscriptions (the alert benchmark's mix:
      30 % radius, 20 % text query) matched in the stream, alerts produced to the alerts topic.

Each starts warm (one item through first). Then N items are produced at once and the clock runs
until the consumer group has committed all of them: items/s for each, and the ratio (b)/(a)
(target >= 0.5). Before its burst, the pipeline is also timed one item at a time, produce ->
searchable in the articles index (target p95 <= 1 s), so a gain in throughput cannot hide a
loss in latency. Prints the figures, writes benchmarks/results/throughput-latest.json and
compares with throughput-baseline.json (`--save-baseline` replaces it).

    .venv/bin/python benchmarks/throughput.py [--items 3000] [--subscriptions 1000] [--latency-items 30]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

from bench_common import (CORPUS, Vocabulary, all_committed, item, load, make_subscriptions, percentiles,  # noqa: I001
                          run_settings, spawn, stop, store_subscriptions, texts, wait_for)
from newswatch.connectors import kafka, stack
from newswatch.connectors.search import SearchBackend
from newswatch.pipelines.settings import Settings, load_settings
from results_file import save_and_compare

RAW_POLL_RECORDS = 500  # one poll, one bulk request: the size the pipeline's bulk_max_docs allows too
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# --- where the CPU goes -----------------------------------------------------------------------------

def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def stack_processes(settings: Settings, supervisor_pid: int | None) -> dict[str, int]:
    """name -> pid of what shares the machine during a burst: Kafka, the search engine, and the
    pipeline's supervisor, worker (the Python SDK harness runs in it: LOOPBACK) and Prism."""
    from newswatch.connectors.stack import running_pid
    from newswatch.pipelines.supervisor import descendants, worker_pids

    procs = {name: running_pid(settings.stack.home, name) for name in ("kafka", "opensearch")}
    if supervisor_pid:
        procs["supervisor"] = supervisor_pid
        workers = worker_pids(supervisor_pid)
        for i, worker in enumerate(workers):
            suffix = f" {i}" if len(workers) > 1 else ""
            procs[f"worker{suffix} (SDK harness)"] = worker
            for child in descendants(worker):
                if b"prism" in Path(f"/proc/{child}/cmdline").read_bytes():
                    procs[f"prism{suffix}"] = child
    return {name: pid for name, pid in procs.items() if pid}


class CpuMeter:
    """CPU seconds each process spent between start() and stop(), and the share of the machine."""

    def __init__(self, procs: dict[str, int]) -> None:
        self.procs = procs

    def start(self) -> None:
        self.began = time.perf_counter(), {n: cpu_seconds(p) for n, p in self.procs.items()}

    def stop(self) -> dict:
        wall, before = time.perf_counter() - self.began[0], self.began[1]
        used = {n: round(cpu_seconds(p) - before[n], 1) for n, p in self.procs.items()}
        return {"wall_s": round(wall, 1), "cores": os.cpu_count(), "cpu_s": used,
                "machine_busy_share": round(sum(used.values()) / (wall * (os.cpu_count() or 1)), 2)}


def stage_totals(ports: list[int]) -> dict[str, dict]:
    """From the workers' /metrics: per stage (and per bulk request), how many observations and the
    seconds they took in all; per item stages count items, match and write count batches."""
    import urllib.request

    text = "\n".join(urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
                     for port in ports)
    totals: dict[str, dict] = {}
    for line in text.splitlines():
        for metric, label in (("newswatch_stage_seconds", "stage"), ("newswatch_bulk_seconds", None)):
            for kind in ("count", "sum"):
                prefix = f"{metric}_{kind}"
                if line.startswith(prefix + "{") or line.startswith(prefix + " "):
                    name = line.split(f'{label}="')[1].split('"')[0] if label else "bulk request"
                    entry = totals.setdefault(name, {})
                    entry[kind] = entry.get(kind, 0.0) + float(line.rsplit(" ", 1)[1])
    return {name: {"calls": int(t.get("count", 0)), "seconds": round(t.get("sum", 0.0), 2)}
            for name, t in totals.items()}


def py_spy(pid: int, out: Path, seconds: int) -> subprocess.Popen | None:
    """Samples the worker with py-spy (pip install py-spy), when it is installed."""
    exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(exe).exists():
        print("throughput: --profile needs py-spy (pip install py-spy); not profiling", file=sys.stderr)
        return None
    return subprocess.Popen([exe, "record", "--pid", str(pid), "--duration", str(seconds), "--rate", "50",
                             "--format", "raw", "--output", str(out), "--nonblocking"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# --- (a) the raw copy -------------------------------------------------------------------------------

class RawCopy:
    """Consume -> bulk -> commit, in a thread, until stopped."""

    def __init__(self, settings: Settings, index: str) -> None:
        from opensearchpy import OpenSearch

        self.settings = settings
        self.index = index
        self.client = OpenSearch(settings.search.url, timeout=60)
        self.stopped = threading.Event()
        self.failure: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="raw-copy", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=60)
        if self.failure:
            raise SystemExit(f"throughput: the raw copy failed: {self.failure!r}")

    def _run(self) -> None:
        from opensearchpy import helpers

        ks = self.settings.kafka
        consumer = kafka.consume_whole_topic(ks, ks.topic, ks.group_id, enable_auto_commit=False,
                                             auto_offset_reset="earliest", max_poll_records=RAW_POLL_RECORDS)
        try:
            while not self.stopped.is_set():
                polled = consumer.poll(timeout_ms=200)
                records = [r for batch in polled.values() for r in batch]
                if not records:
                    continue
                actions = [{"_index": self.index, "_id": f"{r.topic}-{r.partition}-{r.offset}",
                            "_source": json.loads(r.value)} for r in records]
                helpers.bulk(self.client, actions, refresh=False)
                consumer.commit()
        except BaseException as err:  # noqa: BLE001 - reported by stop()
            self.failure = err
        finally:
            consumer.close()


def burst(settings: Settings, run: str, corpus: list[str], procs: list, meter: CpuMeter) -> tuple[int, float, dict]:
    """Produce every text at once; seconds until the group has committed them all, and the CPU
    each process used meanwhile."""
    ks = settings.kafka
    payloads = [item(run, i, text) for i, text in enumerate(corpus)]
    start = time.perf_counter()
    meter.start()
    kafka.produce(ks, payloads)
    if not wait_for(lambda: all_committed(ks, ks.topic, ks.group_id), 3600, "every item committed", procs):
        raise SystemExit("throughput: the burst was not committed within an hour")
    return len(payloads), time.perf_counter() - start, meter.stop()


def raw_copy(base: Settings, corpus: list[str]) -> dict:
    run = f"rawcopy{uuid.uuid4().hex[:6]}"
    settings = run_settings(base, run)
    kafka.ensure_topics(settings.kafka)
    index = f"{run}-raw"
    copier = RawCopy(settings, index)
    copier.start()
    try:
        kafka.produce(settings.kafka, [item(run, "warmup", corpus[0])])
        wait_for(lambda: all_committed(settings.kafka, run, run), 300, "the raw copy's warm-up item", [])
        meter = CpuMeter({**stack_processes(base, None), "raw copy (this process)": os.getpid()})
        n, seconds, cpu = burst(settings, run, corpus, [], meter)
    finally:
        copier.stop()
        copier.client.indices.delete(index=index, ignore_unavailable=True)
        delete_topics(settings)
    return {"items": n, "seconds": round(seconds, 2), "items_per_s": round(n / seconds, 1), "cpu": cpu}


# --- (b) the pipeline ---------------------------------------------------------------------------------

def searchable_latency(settings: Settings, run: str, corpus: list[str], n: int) -> dict:
    """Items one at a time: produce (acknowledged) -> the article is readable by id."""
    backend = SearchBackend(settings.search)
    producer = kafka.producer(settings.kafka)
    seconds = []
    for i in range(n):
        sent = time.perf_counter()
        producer.send(settings.kafka.topic, item(run, f"latency-{i}", corpus[i % len(corpus)])).get(timeout=30)
        while backend.get(settings.search.articles_index, f"{run}-latency-{i}") is None:
            time.sleep(0.01)
        seconds.append(time.perf_counter() - sent)
        time.sleep(0.2)
    producer.close()
    return percentiles([s * 1000 for s in seconds])


def pipeline(base: Settings, corpus: list[str], n_subscriptions: int, latency_items: int, seed: int,
             profile: Path | None, workers: int) -> dict:
    run = f"tput{uuid.uuid4().hex[:6]}"
    settings = run_settings(base, run)
    metrics_port = free_port()
    ports = [metrics_port + i for i in range(workers)]  # the supervisor gives worker i port + i
    settings.pipeline = settings.pipeline.model_copy(update={"metrics_port": metrics_port, "workers": workers})
    from newswatch.pipelines.streaming import prepare

    prepare(settings)
    subs = make_subscriptions(n_subscriptions, Vocabulary(corpus[:3000]), "http://127.0.0.1:9/bench",
                              random.Random(seed))
    stored_s = store_subscriptions(settings, subs) if subs else 0.0
    log = base.stack.home / f"{run}-pipeline.log"
    proc = spawn(settings, ["run"], log)
    backend = SearchBackend(settings.search)
    try:
        kafka.produce(settings.kafka, [item(run, "warmup", corpus[0])])
        wait_for(lambda: backend.get(settings.search.articles_index, f"{run}-warmup") is not None, 300,
                 "the pipeline's warm-up item", [proc])
        latency = searchable_latency(settings, run, corpus, latency_items)
        procs = stack_processes(base, proc.pid)
        harness = next(pid for name, pid in procs.items() if name.startswith("worker"))
        spy = py_spy(harness, profile, 20) if profile else None
        before = stage_totals(ports)
        n, seconds, cpu = burst(settings, run, corpus, [proc], CpuMeter(procs))
        after = stage_totals(ports)
        stages = {name: {"calls": t["calls"] - before.get(name, {}).get("calls", 0),
                         "seconds": round(t["seconds"] - before.get(name, {}).get("seconds", 0.0), 2)}
                  for name, t in after.items()}
        if spy:
            spy.wait(timeout=120)
    finally:
        stop(proc)
    backend.refresh(settings.search.events_index)
    figures = {"workers": workers, "items": n, "seconds": round(seconds, 2), "items_per_s": round(n / seconds, 1), "cpu": cpu,
               "stage_seconds_in_burst": stages,
               "subscriptions": len(subs), "subscriptions_store_s": round(stored_s, 1),
               "events_indexed": backend.count(settings.search.events_index),
               "alerts_on_topic": sum(1 for _ in kafka.read_topic(settings.kafka, settings.alerts.topic)),
               "searchable_latency_ms": latency, "log": str(log)}
    backend.delete_indices()
    delete_topics(settings)
    return figures


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def delete_topics(settings: Settings) -> None:
    from kafka.admin import KafkaAdminClient

    admin = KafkaAdminClient(**kafka.client_config(settings.kafka))
    try:
        existing = set(admin.list_topics())
        names = [settings.kafka.topic, settings.kafka.dlq_topic, settings.alerts.topic, settings.alerts.dlq_topic]
        admin.delete_topics([t for t in names if t in existing])
    finally:
        admin.close()


# --- report ---------------------------------------------------------------------------------------------

def print_profile(path: Path, top: int = 25) -> None:
    """Self time and total time (inclusive) of the functions py-spy sampled most."""
    own, total, samples = Counter(), Counter(), 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = [f.split(" (")[0] + " " + f.split(" (")[-1].rstrip(")").split(":")[0].split("/")[-1]
                  for f in stack.split(";")]
        n = int(count)
        samples += n
        own[frames[-1]] += n
        for frame in set(frames):
            total[frame] += n
    print(f"py-spy: {samples} samples of the worker; top self time, then top inclusive time")
    for title, table in (("self", own), ("inclusive", total)):
        for frame, n in table.most_common(top):
            print(f"  {title:9} {100 * n / samples:5.1f} %  {frame}")


def compare(r: dict, b: dict) -> str:
    return (f"vs baseline ({b['when']}): pipeline {r['pipeline']['items_per_s']} vs {b['pipeline']['items_per_s']} "
            f"items/s, raw copy {r['raw_copy']['items_per_s']} vs {b['raw_copy']['items_per_s']} items/s, ratio "
            f"{r['ratio']} vs {b['ratio']}, searchable p95 {r['pipeline']['searchable_latency_ms'].get('p95')} vs "
            f"{b['pipeline']['searchable_latency_ms'].get('p95')} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=3000, help="articles in each burst (default 3000)")
    parser.add_argument("--subscriptions", type=int, default=1000, help="stored subscriptions (default 1000)")
    parser.add_argument("--latency-items", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--profile", type=Path, help="sample the pipeline's worker with py-spy for 20 s of the "
                        "burst into this file (collapsed stacks), and print its top functions")
    parser.add_argument("--workers", type=lambda v: [int(x) for x in v.split(",")], default=[1],
                        help="pipeline.workers to run the pipeline with, one burst each, e.g. 1,2 (default 1); "
                        "the ratio is the first's")
    parser.add_argument("--save-baseline", action="store_true")
    args = parser.parse_args()

    base = load_settings()
    stack.up(base.stack)
    corpus = texts(args.items)
    started = {"load_avg_1m_start": load()}
    raw = raw_copy(base, corpus)
    print(f"raw copy: {raw['items_per_s']} items/s", file=sys.stderr)
    runs = []
    for workers in args.workers:
        runs.append(pipeline(base, corpus, args.subscriptions, args.latency_items, args.seed, args.profile, workers))
        print(f"pipeline, {workers} worker(s): {runs[-1]['items_per_s']} items/s, ratio "
              f"{runs[-1]['items_per_s'] / raw['items_per_s']:.3f}", file=sys.stderr)
    full = runs[0]
    ratio = round(full["items_per_s"] / raw["items_per_s"], 3)
    result = {"benchmark": "pipeline vs raw copy (consume -> bulk -> commit), same stack, same articles",
              "source": str(CORPUS) if CORPUS.exists() else "synthetic", "raw_copy": raw, "pipeline": full,
              "ratio": ratio, "by_workers": [{"workers": r["workers"], "items_per_s": r["items_per_s"],
                                               "ratio": round(r["items_per_s"] / raw["items_per_s"], 3),
                                               "searchable_p95_ms": r["searchable_latency_ms"].get("p95"),
                                               "cpu": r["cpu"]} for r in runs],
              **started, "load_avg_1m_end": load(),
              "median_text_chars": int(statistics.median(len(t) for t in corpus)),
              "when": time.strftime("%Y-%m-%dT%H:%M:%S")}
    save_and_compare("throughput", result, args.save_baseline, compare)
    if args.profile and args.profile.exists():
        print_profile(args.profile)
    p95 = full["searchable_latency_ms"].get("p95", float("inf"))
    print(f"target: ratio >= 0.5 -> {'met' if ratio >= 0.5 else 'NOT met'}; "
          f"produce -> searchable p95 <= 1 s -> {'met' if p95 <= 1000 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
