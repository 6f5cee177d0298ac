"""Delivery worker throughput: alerts per second through `newswatch alerts deliver`, one send at a
time against several at once, when receivers take as long to answer as a remote endpoint does.

On the local stack (started if it is not running, and stopped again afterwards if this script
started it): stores `--subscriptions` subscriptions, each with a webhook to a receiver in this
process on loopback that answers after `--receiver-delay-ms`, starts the delivery worker as a
subprocess on a fresh alerts topic and indices, waits for a warm-up alert (the worker's start and
first poll are not part of the figures), then produces `--alerts` alerts at once straight onto
the alerts topic (no pipeline), round robin over the subscriptions, and waits until every one has
reached the receiver and the worker has committed them all. Reported per run:
  - delivered_per_s: alerts / (last receipt - first alert produced);
  - latency from producing an alert (its source_timestamp_ms) to its receipt, p50/p95/p99/max: in
    a burst this is mostly the wait behind the alerts ahead of it;
  - alerts missing and duplicated at the receiver.
Two runs, each on its own topics and indices: first the baseline in the same invocation,
alerts.delivery_concurrency = 1 (sends one after another, as before concurrent delivery), then
the configured value (default 16). Prints both and the speed-up, writes
benchmarks/results/delivery-latest.json and compares with the stored baseline file next to it
(`--save-baseline` replaces it).

    .venv/bin/python benchmarks/delivery_throughput.py [--alerts 2000] [--subscriptions 50] [--receiver-delay-ms 50]
"""
from __future__ import annotations

import argparse
import sys
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from newswatch.connectors import kafka, stack  # noqa: E402
from newswatch.connectors.search import SearchBackend  # noqa: E402
from newswatch.pipelines.model import Alert, Subscription, alert_id  # noqa: E402
from newswatch.pipelines.settings import Settings, load_settings  # noqa: E402
from alert_latency import Receiver, delete_topics  # noqa: E402
from bench_common import all_committed, load, percentiles, run_settings, spawn, stop, store_subscriptions, wait_for  # noqa: E402
from results_file import save_and_compare  # noqa: E402

WARMUP = "warmup"


def subscriptions(n: int, url: str) -> list[Subscription]:
    """Realert 0: no throttle, so every alert is one webhook call and the figures measure sending."""
    return [Subscription(owner="benchmark", name=f"desk-{i}", types=["offensive"], realert_s=0,
                         channels=[{"type": "webhook", "url": url}]) for i in range(n)]


def alert(sub: Subscription, event_id: str) -> bytes:
    """An alert as the pipeline puts it on the alerts topic, stamped with the time it is produced."""
    event = {"id": event_id, "type": "offensive", "trigger": {"text": "airstrikes"},
             "sentence_text": "Government warplanes carried out airstrikes on rebel positions near Aleppo.",
             "locations": [{"canonical": "Aleppo", "country": "SY"}]}
    now = time.time()
    return Alert(id=alert_id(sub.id, event_id), subscription_id=sub.id, owner=sub.owner, subscription_name=sub.name,
                 event_id=event_id, event=event, matched_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
                 source_timestamp_ms=int(now * 1000)).model_dump_json().encode()


def produce_burst(settings: Settings, subs: list[Subscription], n: int) -> float:
    """n alerts onto the alerts topic as fast as the producer takes them; returns when the first was made (ms)."""
    producer = kafka.producer(settings.kafka)
    first_ms = time.time() * 1000
    for i in range(n):
        producer.send(settings.alerts.topic, alert(subs[i % len(subs)], f"ev-{i}"))
    producer.flush()
    producer.close()
    return first_ms


def one_run(base: Settings, args, concurrency: int) -> dict:
    run = f"dlvbench{uuid.uuid4().hex[:6]}"
    settings = run_settings(base, run)
    settings.alerts.delivery_concurrency = concurrency
    from newswatch.pipelines.streaming import prepare

    prepare(settings)
    receiver = Receiver(args.receiver_delay_ms / 1000)
    subs = subscriptions(args.subscriptions, receiver.url)
    store_subscriptions(settings, subs)
    log = base.stack.home / f"{run}-deliver.log"
    procs = [spawn(settings, ["alerts", "deliver"], log)]
    load_start = load()
    try:
        kafka.produce(settings.kafka, [alert(subs[0], WARMUP)], topic=settings.alerts.topic)
        wait_for(lambda: receiver.got(subs[0].id), 300, "the warm-up alert", procs)
        print(f"delivery_concurrency {concurrency}: {args.alerts} alerts to {len(subs)} subscriptions ...",
              file=sys.stderr)
        first_ms = produce_burst(settings, subs, args.alerts)
        timeout_s = max(600.0, 4 * args.alerts * args.receiver_delay_ms / 1000)
        done = wait_for(lambda: all_committed(settings.kafka, settings.alerts.topic, settings.alerts.group_id)
                        and receiver.quiet_for(2), timeout_s, "every alert delivered", procs)
    finally:
        for proc in procs:
            stop(proc)
        receiver.close()
    SearchBackend(settings.search).delete_indices()
    delete_topics(settings)
    return figures(receiver.receipts, first_ms, args.alerts, concurrency, done) | {
        "load_avg_1m_start": load_start, "load_avg_1m_end": load(), "log": str(log)}


def figures(receipts: list[dict], first_ms: float, n: int, concurrency: int, done: bool) -> dict:
    burst = [r for r in receipts if r["event_id"] != WARMUP]
    first: dict[str, dict] = {}
    for r in sorted(burst, key=lambda r: r["received_ms"]):
        first.setdefault(r["id"], r)
    span_s = (max(r["received_ms"] for r in burst) - first_ms) / 1000 if burst else 0
    latency = [r["received_ms"] - r["source_timestamp_ms"] for r in first.values()]
    return {"delivery_concurrency": concurrency, "all_delivered": done, "alerts_sent": n,
            "received": len(first), "missing": n - len(first), "duplicated": len(burst) - len(first),
            "seconds_first_produced_to_last_receipt": round(span_s, 2),
            "delivered_per_s": round(len(first) / span_s, 1) if span_s else None,
            "latency_ms": percentiles(latency)}


def compare(r: dict, b: dict) -> str:
    now, was = r["concurrent"], b["concurrent"]
    return (f"vs stored baseline ({b['when']}): {now['delivered_per_s']} vs {was['delivered_per_s']} alerts/s at "
            f"concurrency {now['delivery_concurrency']} (vs {was['delivery_concurrency']}), p99 "
            f"{now['latency_ms'].get('p99')} vs {was['latency_ms'].get('p99')} ms; one at a time in this run: "
            f"{r['one_at_a_time']['delivered_per_s']} alerts/s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--alerts", type=int, default=2000, help="alerts in the burst (default 2000)")
    parser.add_argument("--subscriptions", type=int, default=50, help="subscriptions they go to, round robin")
    parser.add_argument("--receiver-delay-ms", type=float, default=50,
                        help="how long the receiver takes to answer each webhook call (default 50)")
    parser.add_argument("--save-baseline", action="store_true")
    args = parser.parse_args()
    base = load_settings()
    was_running = all(c.alive for c in stack.status(base.stack))
    stack.up(base.stack)
    try:
        serial = one_run(base, args, 1)
        concurrent = one_run(base, args, base.alerts.delivery_concurrency)
    finally:
        if not was_running:
            stack.down(base.stack)  # leave the machine as it was found
    speedup = (concurrent["delivered_per_s"] or 0) / serial["delivered_per_s"] if serial["delivered_per_s"] else None
    result = {"benchmark": "alerts topic -> webhook receipt through `newswatch alerts deliver`, local stack",
              "receiver_delay_ms": args.receiver_delay_ms, "subscriptions": args.subscriptions,
              "one_at_a_time": serial, "concurrent": concurrent,
              "speedup": round(speedup, 1) if speedup else None, "when": time.strftime("%Y-%m-%dT%H:%M:%S")}
    save_and_compare("delivery", result, args.save_baseline, compare)
    print(f"one at a time: {serial['delivered_per_s']} alerts/s, p50 {serial['latency_ms'].get('p50')} ms; "
          f"{concurrent['delivery_concurrency']} at once: {concurrent['delivered_per_s']} alerts/s, p50 "
          f"{concurrent['latency_ms'].get('p50')} ms; speed-up x{result['speedup']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
