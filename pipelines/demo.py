"""`newswatch demo`: the main job end to end on the local stack, with the bundled sample news."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from newswatch.connectors import kafka, stack
from newswatch.connectors.search import SearchBackend

from .settings import Settings, as_environment
from .streaming import prepare


def _all_committed(s: Settings, targets: dict[int, int]) -> bool:
    committed = kafka.committed_offsets(s.kafka, s.kafka.topic)
    return all((committed.get(p) or 0) >= end for p, end in targets.items())


class DemoReceiver:
    """A webhook receiver on loopback that prints each alert as it arrives, with its latency from
    the news message's Kafka timestamp. Stands in for the analyst's own endpoint."""

    def __init__(self) -> None:
        import json
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                alert = json.loads(body)
                received.append(alert)
                latency = time.time() - alert.get("source_timestamp_ms", time.time() * 1000) / 1000
                event = alert.get("event", {})
                print(f"    alert → {alert.get('subscription_name')}: {event.get('type')}/{event.get('subtype')} "
                      f"«{event.get('trigger', {}).get('text')}» ({event.get('language')}) {latency:.2f}s after the "
                      "news reached Kafka", flush=True)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _start(args: list[str], env: dict, log: Path) -> subprocess.Popen:
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "newswatch.pipelines.cli", *args], stdout=out, stderr=subprocess.STDOUT,
                                env=env, start_new_session=True)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)


def _subscribe(s: Settings, receiver: DemoReceiver) -> None:
    from newswatch.pipelines.alerting.service import SubscriptionService
    from newswatch.pipelines.model import Subscription

    sub = Subscription(id="demo-all-events", owner="demo", name="demo: every event", realert_s=0,
                       channels=[{"type": "webhook", "url": receiver.url}])
    SubscriptionService(s).save(sub)
    print(f"    subscription {sub.id} → webhook {receiver.url}")


def run_demo(s: Settings, sample: Path, timeout_s: float = 300) -> int:
    print(f"1/6 starting Kafka and OpenSearch under {s.stack.home} (the first run downloads them from Maven Central)")
    for c in stack.up(s.stack):
        print(f"    {c.name:<11} 127.0.0.1:{c.port}  pid {c.pid}  {c.rss_mb} MB")
    print("2/6 creating topics and index templates")
    # the demo's receiver listens on loopback, which webhook targets may not be unless allowed
    s = s.model_copy(update={"alerts": s.alerts.model_copy(update={
        "allowed_networks": [*s.alerts.allowed_networks, "127.0.0.0/8"]})})
    prepare(s)
    backend = SearchBackend(s.search)
    print("3/6 a sample subscription, a local webhook receiver and the delivery worker")
    receiver = DemoReceiver()
    _subscribe(s, receiver)
    env = as_environment(s)
    logs = s.stack.home
    worker = _start(["alerts", "deliver"], env, logs / "alerts-demo.log")
    lines = [line for line in sample.read_bytes().splitlines() if line.strip()]
    lines.append(b"")  # an empty message, to show the dead-letter path
    print(f"4/6 running the pipeline ({s.pipeline.runner} runner; log: {logs / 'pipeline-demo.log'})")
    started = time.monotonic()
    pipeline = _start(["run"], env, logs / "pipeline-demo.log")
    try:
        time.sleep(2)
        print(f"5/6 sending {len(lines)} sample messages from {sample} to topic {s.kafka.topic}; alerts as they arrive:")
        kafka.produce(s.kafka, lines)
        targets = kafka.end_offsets(s.kafka, s.kafka.topic)
        while not _all_committed(s, targets):
            for name, proc in (("pipeline", pipeline), ("delivery worker", worker)):
                if proc.poll() is not None:
                    print(f"the {name} stopped unexpectedly; see the logs in {logs}", file=sys.stderr)
                    return 1
            if time.monotonic() - started > timeout_s:
                print(f"the pipeline did not finish the sample in {timeout_s:.0f}s; see {logs}", file=sys.stderr)
                return 1
            time.sleep(0.5)
        print(f"    all messages processed and committed in {time.monotonic() - started:.1f}s (including start-up)")
        time.sleep(3)  # the last alerts on their way
    finally:
        _stop(pipeline)
        _stop(worker)
        receiver.close()
    print(f"    {len(receiver.received)} alert(s) delivered to the webhook")
    _report(s, backend)
    _start_api(s, env, logs)
    print(f"\nThe stack is still running: search it at {s.search.url} (indices {s.search.articles_index}, "
          f"{s.search.events_index}, {s.search.alerts_index}); `newswatch stack down` stops it.")
    print("Kibana users: newswatch kibana import --url http://<kibana host>:5601 [--user NAME | --api-key ID:KEY]"
          "  (OpenSearch Dashboards: add --opensearch-dashboards)")
    return 0


def _start_api(s: Settings, env: dict, logs: Path) -> None:
    """The API and the analysts' page, left running like the stack, with a token to sign in."""
    import urllib.request

    from newswatch.api.auth import TokenStore

    store = TokenStore(SearchBackend(s.search), s.api.tokens_index)
    store.ensure_index()
    token = store.create("demo", admin=True)
    api = _start(["api"], env, logs / "api-demo.log")
    url = f"http://{s.api.host}:{s.api.port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and api.poll() is None:
        try:
            urllib.request.urlopen(f"{url}/healthz", timeout=2).close()
            break
        except OSError:
            time.sleep(0.5)
    if api.poll() is not None:
        print(f"    the API did not start (port {s.api.port} in use?); see {logs / 'api-demo.log'}", file=sys.stderr)
        return
    print(f"    API and page: {url}/  (docs {url}/docs); sign in with the admin token {token}")
    print(f"    the API keeps running (pid {api.pid}; `kill {api.pid}` stops it)")


def _report(s: Settings, backend: SearchBackend) -> None:
    for index in (s.search.articles_index, s.search.events_index):
        backend.refresh(index)
    print("6/6 what was indexed")
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
