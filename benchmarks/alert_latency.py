"""Alert latency on the local stack, and the cost of matching, with 1,000 (or more) subscriptions.

End to end (default): starts the stack if needed, stores `--subscriptions` subscriptions (30 % with
a radius, 20 % with a text query, the rest `terms` filters; every one with a webhook to a receiver
in this process, on loopback), starts `newswatch run` and `newswatch alerts deliver` as
subprocesses on fresh topics and indices, publishes items at a fixed rate, waits until every item
is committed and every alert delivered, then reports:
  - latency from the news message's Kafka timestamp (the alert's source_timestamp_ms) to webhook
    receipt, p50/p95/p99/max, split into its two stages: Kafka timestamp -> the alert on the alerts
    topic (the pipeline: NLP, indexing, matching), and alerts topic -> webhook (the worker);
  - alerts expected vs received vs duplicated. Expected: the in-process matcher plus one percolation
    per 50 events (pipelines/alerting/matching.py, the stream's own code) over every event in the
    events index at the end; also the number of alerts the pipeline put on the alerts topic.
  Also how long the pipeline took to commit every item (items/s through the pipeline).
  Baseline measured in the same run: a plain webhook round trip (the channel's own sender, signing
  and SSRF check included, POSTing real alert bodies to the same receiver, one at a time), i.e. the
  floor of the delivery stage without Kafka and the worker. `--subscriptions 0` runs the pipeline
  alone (no matching), a baseline for the pipeline's items/s, written to alert-pipeline-only-*.json.
  Subscriptions have realert 0 (no throttle): every match is one webhook call, so the figures
  measure the alert path, not the throttle. Each subscription is narrow, as an analyst's is (a type
  and two more filters, a 5-50 km circle, or one or two rarer words): on the corpus that is about
  0.4 alerts per event, some 30 alerts a second at 200 items a second; `alerts.offered_per_s` and
  `alerts.delivered_per_s` say what the worker was offered and what it kept up with.

Matching only (`--matching-only`): a batch of 50 real events (the corpus through the in-process
chain) against 1,000 and 10,000 stored subscriptions (same mix), timing
  - newswatch's way: match_events = structured filters in process + one percolation of the text
    queries of the candidates (the engine's ids filter);
  - percolating everything: one percolate request for the batch over all stored queries.
  Both must find the same (subscription, event) pairs; the script says if they do not.

Both modes print the figures, write benchmarks/results/alert[-matching]-latest.json and compare
with the stored baseline file next to it (`--save-baseline` replaces it). Real articles from
../shared/corpus when present (measurement only), else synthetic sentences.

    .venv/bin/python benchmarks/alert_latency.py [--rate 200] [--seconds 60] [--subscriptions 1000]
    .venv/bin/python benchmarks/alert_latency.py --subscriptions 0 [--rate 200] [--seconds 60]
    .venv/bin/python benchmarks/alert_latency.py --matching-only [--sizes 1000,10000] [--repeats 5]
"""
from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
import threading
import time
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from newswatch.connectors import kafka, stack  # noqa: E402
from newswatch.connectors.search import SearchBackend  # noqa: E402
from newswatch.connectors.subscriptions import SubscriptionStore  # noqa: E402
from newswatch.pipelines.alerting.matching import SubscriptionMatcher, match_events, subscription_query  # noqa: E402
from newswatch.pipelines.model import Alert, Subscription, alert_id  # noqa: E402
from newswatch.pipelines.settings import Settings, load_settings  # noqa: E402
from bench_common import (CORPUS, SYNTHETIC, Vocabulary, all_committed, item, kind_of, load,  # noqa: E402
                          make_subscriptions, percentiles, run_settings, spawn, stop, store_subscriptions, texts,
                          wait_for)
from results_file import save_and_compare  # noqa: E402

BATCH = 50  # events per percolation, as a bundle of the stream holds a few dozen
WARMUP_TOKEN = "warmupzqxj"  # in the warm-up item only, so only the warm-up subscription wants it
BASELINE_SUB = "baseline-round-trip"


# --- the webhook receiver -------------------------------------------------------------------------

class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # many senders at once: socketserver's 5 would drop connections


class Receiver:
    """An HTTP server on loopback that notes when each alert arrived (wall clock, like Kafka's
    timestamps) and answers 200, after `delay_s` (a remote endpoint's round trip)."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.receipts: list[dict] = []
        self.lock = threading.Lock()
        self.last_ms = 0.0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the http.server name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                received_ms = time.time() * 1000
                time.sleep(delay_s)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                receiver.note(json.loads(body), self.headers.get("Idempotency-Key"), received_ms)

            def log_message(self, *args):  # one line per alert would drown the figures
                pass

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def note(self, payload: dict, key: str | None, received_ms: float) -> None:
        with self.lock:
            self.receipts.append({"id": payload.get("id"), "key": key, "received_ms": received_ms,
                                  "subscription_id": payload.get("subscription_id"),
                                  "event_id": payload.get("event_id"), "kind": payload.get("kind"),
                                  "source_timestamp_ms": payload.get("source_timestamp_ms")})
            self.last_ms = received_ms

    def quiet_for(self, seconds: float) -> bool:
        return time.time() * 1000 - self.last_ms >= seconds * 1000

    def got(self, subscription_id: str) -> bool:
        with self.lock:
            return any(r["subscription_id"] == subscription_id for r in self.receipts)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- figures --------------------------------------------------------------------------------------

# --- end to end -----------------------------------------------------------------------------------

def publish(settings: Settings, run: str, corpus: list[str], rate: float, seconds: float) -> tuple[dict, float]:
    """Sends rate*seconds items, each at its slot on a fixed schedule (not in bursts); returns the
    figures and when the first was sent (perf_counter)."""
    producer = kafka.producer(settings.kafka)
    n = int(rate * seconds)
    start = time.perf_counter()
    late = 0
    for i in range(n):
        due = start + i / rate
        wait = due - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        elif wait < -0.05:
            late += 1
        producer.send(settings.kafka.topic, item(run, i, corpus[i]))
    producer.flush()
    elapsed = time.perf_counter() - start
    producer.close()
    return {"items_sent": n, "publish_seconds": round(elapsed, 2), "achieved_rate_per_s": round(n / elapsed, 1),
            "items_sent_over_50ms_late": late}, start


def scan_events(backend: SearchBackend, index: str, skip_article: str) -> list[dict]:
    backend.refresh(index)
    events, after = [], None
    while True:
        body = {"size": 1000, "query": {"match_all": {}}, "sort": [{"id": "asc"}]}
        if after:
            body["search_after"] = after
        hits = backend.search(index, body)["hits"]["hits"]
        events += [h["_source"] for h in hits if h["_source"]["article_id"] != skip_article]
        if len(hits) < 1000:
            return events
        after = hits[-1]["sort"]


def expected_alerts(settings: Settings, events: list[dict], skip_sub: str | None) -> set[str]:
    """The stream's own matching, run again over what was indexed: in process + percolation."""
    store = SubscriptionStore(SearchBackend(settings.search))
    matcher = SubscriptionMatcher([s for s in store.all() if s.id != skip_sub])
    expected = set()
    for i in range(0, len(events), BATCH):
        batch = events[i:i + BATCH]
        for event, subs in zip(batch, match_events(batch, matcher, store.percolate), strict=True):
            expected |= {alert_id(s.id, event["id"]) for s in subs}
    return expected


def alerts_on_topic(settings: Settings, warmup_article: str) -> dict[str, int]:
    """Alert id -> the Kafka timestamp of its first record on the alerts topic (when the pipeline
    produced it)."""
    produced: dict[str, int] = {}
    for message in kafka.read_topic(settings.kafka, settings.alerts.topic):
        alert = json.loads(message.value)
        if not alert.get("event_id", "").startswith(warmup_article + ":"):
            produced.setdefault(alert["id"], message.timestamp)
    return produced


def webhook_round_trips(settings: Settings, receiver: Receiver, n: int) -> dict:
    """The baseline: the webhook channel's own sender, POSTing a real-sized alert to the same
    receiver, one at a time; milliseconds per call."""
    from newswatch.connectors.channels.base import Delivery
    from newswatch.connectors.channels.webhook import WebhookSender
    from newswatch.pipelines.model import WebhookChannel

    sender = WebhookSender(WebhookChannel(url=receiver.url, secret="benchmark-key"), settings.alerts)
    event = {"id": "x:0:offensive:aleppo", "type": "offensive", "subtype": "air_strike", "confidence": 0.9,
             "locations": [{"canonical": "Aleppo", "country": "SY", "lat": 36.2, "lon": 37.16}],
             "actors": [{"canonical": "Syrian Army"}], "title": "", "sentence_text": SYNTHETIC[0]}
    times = []
    for i in range(n):
        alert = Alert(id=f"rt{i}", subscription_id=BASELINE_SUB, owner="benchmark", subscription_name="round trip",
                      event_id=event["id"], event=event, matched_at="2026-01-01T00:00:00Z")
        start = time.perf_counter()
        sender.send(Delivery.single(alert))
        times.append((time.perf_counter() - start) * 1000)
    return percentiles(times)


def warm_up(settings: Settings, run: str, receiver: Receiver, warmup: Subscription | None, procs) -> None:
    """Pipeline start-up, model loading and the worker's first poll are not part of the figures:
    one item first, and wait for its alert (or, with no subscriptions, until it is searchable)."""
    kafka.produce(settings.kafka, [item(run, "warmup", f"{SYNTHETIC[0]} {WARMUP_TOKEN}")])
    if warmup is not None:
        wait_for(lambda: receiver.got(warmup.id), 300, "the warm-up alert", procs)
        return
    backend = SearchBackend(settings.search)
    wait_for(lambda: backend.get(settings.search.articles_index, f"{run}-warmup") is not None, 300,
             "the warm-up item", procs)


def drain(settings: Settings, receiver: Receiver, started: float, items: int, timeout_s: float, procs) -> dict:
    """Waits until the pipeline has committed every item, then until the worker has committed every
    alert and the receiver has been quiet for 3 s; how long each took from the first publish."""
    ks = settings.kafka
    committed = wait_for(lambda: all_committed(ks, ks.topic, ks.group_id), timeout_s, "every item committed", procs)
    pipeline_s = time.perf_counter() - started
    delivered = wait_for(lambda: all_committed(ks, settings.alerts.topic, settings.alerts.group_id)
                         and receiver.quiet_for(3), timeout_s, "every alert delivered", procs)
    return {"pipeline": {"all_committed": committed, "seconds_from_first_publish": round(pipeline_s, 1),
                         "items_per_s": round(items / pipeline_s, 1)},
            "all_delivered": delivered,
            "seconds_from_first_publish_to_last_delivery": round(time.perf_counter() - started - 3, 1)}


def end_to_end(args) -> int:
    base = load_settings()
    stack.up(base.stack)
    run = f"alertbench{uuid.uuid4().hex[:6]}"
    settings = run_settings(base, run)
    from newswatch.pipelines.streaming import prepare

    prepare(settings)
    receiver = Receiver()
    corpus = texts(int(args.rate * args.seconds))
    subs = make_subscriptions(args.subscriptions, Vocabulary(corpus[:3000]), receiver.url, random.Random(args.seed))
    # with no subscription at all the pipeline skips matching: `--subscriptions 0` is the pipeline alone
    warmup = Subscription(owner="benchmark", name="warm-up", query=WARMUP_TOKEN, realert_s=0,
                          channels=[{"type": "webhook", "url": receiver.url}]) if subs else None
    extra: dict = {"load_avg_1m_start": load()}
    print(f"storing {len(subs)} subscriptions ...", file=sys.stderr)
    extra["subscriptions_store_s"] = round(store_subscriptions(settings, subs + ([warmup] if warmup else [])), 1)
    logs = base.stack.home / f"{run}-pipeline.log", base.stack.home / f"{run}-deliver.log"
    procs = [spawn(settings, ["run"], logs[0]), spawn(settings, ["alerts", "deliver"], logs[1])]
    try:
        warm_up(settings, run, receiver, warmup, procs)
        print(f"publishing {args.rate}/s for {args.seconds} s ...", file=sys.stderr)
        sent, started = publish(settings, run, corpus, args.rate, args.seconds)
        extra |= drain(settings, receiver, started, sent["items_sent"], args.drain_timeout, procs)
        webhook_baseline = webhook_round_trips(settings, receiver, args.round_trips)
    finally:
        for proc in procs:
            stop(proc)
        receiver.close()
    extra |= {"load_avg_1m_end": load(), "logs": [str(p) for p in logs]}
    warmup_article = f"{run}-warmup"
    backend = SearchBackend(settings.search)
    events = scan_events(backend, settings.search.events_index, warmup_article)
    expected = expected_alerts(settings, events, warmup.id if warmup else None)
    produced = alerts_on_topic(settings, warmup_article)
    result = report(args, subs, sent, events, expected, produced, receiver.receipts, warmup_article,
                    webhook_baseline, extra)
    if not args.keep:
        backend.delete_indices()
        delete_topics(settings)
    save_and_compare("alert" if subs else "alert-pipeline-only", result, args.save_baseline, compare_end_to_end)
    met = result["latency_ms"].get("p99", math.inf) <= 1000 and not result["alerts"]["missing"] \
        and not result["alerts"]["duplicated"]
    print(f"target: p99 <= 1 s, 0 missing, 0 duplicates -> {'met' if met else 'NOT met'}" if subs else
          "no subscriptions: the pipeline alone (compare its items_per_s with a run that has them)")
    return 0


def report(args, subs, sent, events, expected, produced, receipts, warmup_article, webhook_baseline, extra) -> dict:
    """The figures, over the alerts of the published items (the warm-up item's and the baseline's
    round trips left out)."""
    mine = [r for r in receipts if r["subscription_id"] != BASELINE_SUB
            and not str(r["event_id"]).startswith(warmup_article + ":")]
    first: dict[str, dict] = {}
    for r in sorted(mine, key=lambda r: r["received_ms"]):
        first.setdefault(r["id"], r)
    received = set(first)
    latency = [r["received_ms"] - r["source_timestamp_ms"] for r in first.values() if r["source_timestamp_ms"]]
    to_topic = [produced[a] - r["source_timestamp_ms"] for a, r in first.items() if a in produced]
    to_webhook = [r["received_ms"] - produced[a] for a, r in first.items() if a in produced]
    span_s = (max(r["received_ms"] for r in mine) - min(r["received_ms"] for r in mine)) / 1000 if mine else 0
    return {
        "benchmark": "Kafka timestamp -> webhook receipt, local stack (Prism, OpenSearch, delivery worker)",
        "source": str(CORPUS) if CORPUS.exists() else "synthetic",
        "rate_per_s": args.rate, "seconds": args.seconds, **sent,
        "subscriptions": {"total": len(subs), **Counter(kind_of(s) for s in subs)},
        "events_indexed": len(events),
        "alerts": {"expected": len(expected), "on_alerts_topic": len(produced), "received": len(received),
                   "missing": len(expected - received), "unexpected": len(received - expected),
                   "duplicated": len(mine) - len(first), "on_topic_not_expected": len(set(produced) - expected),
                   "expected_not_on_topic": len(expected - set(produced)),
                   "per_event": round(len(expected) / max(1, len(events)), 2),
                   "offered_per_s": round(len(expected) / sent["publish_seconds"], 1),
                   "delivered_per_s": round(len(mine) / span_s, 1) if span_s else None},
        "latency_ms": percentiles(latency),
        "stages_ms": {"kafka_timestamp_to_alerts_topic": percentiles(to_topic),
                      "alerts_topic_to_webhook": percentiles(to_webhook)},
        "baseline": {"what": "plain webhook round trip: the channel's sender POSTing one alert to the same "
                             "receiver, one at a time, in the same run", "ms": webhook_baseline},
        **extra, "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }


def compare_end_to_end(r: dict, b: dict) -> str:
    lat, blat = r["latency_ms"], b["latency_ms"]
    return (f"vs stored baseline ({b['when']}, {b['rate_per_s']}/s for {b['seconds']} s): "
            f"p50 {lat.get('p50')} vs {blat.get('p50')} ms, p99 {lat.get('p99')} vs {blat.get('p99')} ms, "
            f"pipeline {r['pipeline']['items_per_s']} vs {b['pipeline']['items_per_s']} items/s, "
            f"missing {r['alerts']['missing']} vs {b['alerts']['missing']}, "
            f"duplicated {r['alerts']['duplicated']} vs {b['alerts']['duplicated']}; "
            f"in this run the webhook round trip alone is p50 {r['baseline']['ms'].get('p50')} ms, "
            f"p99 {r['baseline']['ms'].get('p99')} ms")


def delete_topics(settings: Settings) -> None:
    from kafka.admin import KafkaAdminClient

    admin = KafkaAdminClient(**kafka.client_config(settings.kafka))
    try:
        names = (settings.kafka.topic, settings.kafka.dlq_topic, settings.alerts.topic, settings.alerts.dlq_topic)
        admin.delete_topics([t for t in names if t in set(admin.list_topics())])
    finally:
        admin.close()


# --- matching only --------------------------------------------------------------------------------

def real_events(n: int) -> list[dict]:
    """n event documents made by the in-process chain (parse, NLP, documents) from the corpus."""
    from newswatch.pipelines.article_steps import RecordProcessor
    from newswatch.pipelines.model import IndexRequest, KafkaRecord
    from newswatch.pipelines.settings import SearchSettings

    search = SearchSettings()
    processor = RecordProcessor(search, 1_000_000)
    events: list[dict] = []
    for i, text in enumerate(texts(6000)):
        record = KafkaRecord("news", 0, i, i - 1, 0, None, item("m", i, text))
        result = processor.process(record, "2026-01-01T00:00:00Z")
        if isinstance(result, IndexRequest):
            events += [doc for index, _, doc in result.docs if index == search.events_index]
        if len(events) >= n:
            return events[:n]
    return events


def stored_document(sub: Subscription) -> dict:
    """A subscriptions-index document as SubscriptionStore.put writes it (no secrets here); written
    in bulk so that 10,000 need not be refreshed one by one."""
    return {"query": subscription_query(sub), "owner": sub.owner, "subscription_id": sub.id,
            "has_text_query": bool(sub.query), "updated_at": "2026-01-01T00:00:00Z",
            "subscription": sub.model_dump(mode="json"), "secrets": {}}


def percolate_all(store: SubscriptionStore, documents: list[dict], size: int) -> dict[int, set[str]]:
    body = {"size": size, "_source": False, "query": {"percolate": {"field": "query", "documents": documents}}}
    found: dict[int, set[str]] = {}
    for hit in store.backend.search(store.index, body)["hits"]["hits"]:
        for slot in hit.get("fields", {}).get("_percolator_document_slot", []):
            found.setdefault(int(slot), set()).add(hit["_id"])
    return found


def timed(fn, repeats: int) -> tuple[list[float], object]:
    fn()  # warm-up: caches, the first request's connection
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - start) * 1000)
    return times, result


def ms(times: list[float]) -> dict:
    return {"median": round(statistics.median(times), 1), "min": round(min(times), 1), "max": round(max(times), 1)}


def matching_at(settings: Settings, subs: list[Subscription], events: list[dict], repeats: int) -> dict:
    backend = SearchBackend(settings.search)
    results = backend.bulk_index([(settings.search.subscriptions_index, s.id, stored_document(s)) for s in subs])
    if not all(r.ok for r in results):
        raise SystemExit(f"alert_latency: subscriptions refused: {[r.error for r in results if not r.ok][:2]}")
    backend.refresh(settings.search.subscriptions_index)
    store = SubscriptionStore(backend)
    matcher = SubscriptionMatcher(subs)
    percolated: list[float] = []

    def timed_percolate(documents, ids):
        start = time.perf_counter()
        try:
            return store.percolate(documents, ids)
        finally:
            percolated.append((time.perf_counter() - start) * 1000)

    ours, matched = timed(lambda: match_events(events, matcher, timed_percolate), repeats)
    theirs, hits = timed(lambda: percolate_all(store, events, len(subs)), repeats)
    pairs_ours = {(s.id, e["id"]) for e, ss in zip(events, matched, strict=True) for s in ss}
    pairs_theirs = {(sid, events[slot]["id"]) for slot, ids in hits.items() for sid in ids}
    in_process = [t - p for t, p in zip(ours, percolated[1:], strict=False)]
    backend.client.delete_by_query(index=settings.search.subscriptions_index, body={"query": {"match_all": {}}},
                                   refresh=True, conflicts="proceed")
    return {"subscriptions": len(subs), **Counter(kind_of(s) for s in subs),
            "filters_plus_text_percolation_ms": ms(ours),
            "of_which_in_process_ms": ms(in_process) if in_process else None,
            "of_which_percolation_ms": ms(percolated[1:]) if len(percolated) > 1 else None,
            "text_candidates_percolated": sum(1 for e in events for s in matcher.candidates(e) if s.query),
            "percolate_everything_ms": ms(theirs),
            "alerts": len(pairs_ours), "same_alerts_both_ways": pairs_ours == pairs_theirs,
            "differences": len(pairs_ours ^ pairs_theirs)}


def matching_only(args) -> int:
    base = load_settings()
    stack.up(base.stack)
    run = f"alertmatch{uuid.uuid4().hex[:6]}"
    settings = run_settings(base, run)
    backend = SearchBackend(settings.search)
    backend.ensure_templates()
    corpus = texts(3000)
    vocab = Vocabulary(corpus)
    print(f"tagging the corpus for {args.batch} events ...", file=sys.stderr)
    events = real_events(args.batch)
    load_start = load()
    rows = []
    try:
        for size in args.sizes:
            subs = make_subscriptions(size, vocab, "http://127.0.0.1:9/alerts", random.Random(args.seed))
            print(f"{size} subscriptions ...", file=sys.stderr)
            rows.append(matching_at(settings, subs, events, args.repeats))
    finally:
        backend.delete_indices()
    result = {"benchmark": f"matching one batch of {len(events)} real events, local OpenSearch",
              "source": str(CORPUS) if CORPUS.exists() else "synthetic", "events": len(events),
              "repeats": args.repeats, "runs": rows, "load_avg_1m_start": load_start, "load_avg_1m_end": load(),
              "when": time.strftime("%Y-%m-%dT%H:%M:%S")}
    for row in rows:
        if not row["same_alerts_both_ways"]:
            print(f"alert_latency: the two ways disagree on {row['differences']} pairs at {row['subscriptions']} "
                  "subscriptions: a matching bug (see tests/integration/test_subscription_semantics.py)")
    save_and_compare("alert-matching", result, args.save_baseline, compare_matching)
    return 0


def compare_matching(r: dict, b: dict) -> str:
    lines = [f"vs stored baseline ({b['when']}):"]
    old = {row["subscriptions"]: row for row in b["runs"]}
    for row in r["runs"]:
        was = old.get(row["subscriptions"])
        if was:
            lines.append(f"  {row['subscriptions']}: ours {row['filters_plus_text_percolation_ms']['median']} vs "
                         f"{was['filters_plus_text_percolation_ms']['median']} ms, everything percolated "
                         f"{row['percolate_everything_ms']['median']} vs {was['percolate_everything_ms']['median']} ms")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=200, help="items per second (default 200)")
    parser.add_argument("--seconds", type=float, default=60, help="how long to publish (default 60)")
    parser.add_argument("--subscriptions", type=int, default=1000)
    parser.add_argument("--drain-timeout", type=float, default=600, help="seconds to wait for the backlog after publishing")
    parser.add_argument("--round-trips", type=int, default=300, help="webhook round trips in the baseline")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep this run's topics and indices")
    parser.add_argument("--matching-only", action="store_true")
    parser.add_argument("--sizes", type=lambda v: [int(x) for x in v.split(",")], default=[1000, 10000])
    parser.add_argument("--batch", type=int, default=BATCH, help="events per batch in --matching-only")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--save-baseline", action="store_true")
    args = parser.parse_args()
    return matching_only(args) if args.matching_only else end_to_end(args)


if __name__ == "__main__":
    sys.exit(main())
