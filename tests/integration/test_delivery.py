"""The delivery worker on the real stack: pipeline -> alerts topic -> `newswatch alerts deliver`
-> a real HTTP receiver on loopback. Signed, once, throttled, retried, dead-lettered."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
from kafka import KafkaConsumer

from newswatch.connectors import kafka
from newswatch.connectors.alert_records import AlertRecords
from newswatch.connectors.search import SearchBackend
from newswatch.pipelines.alerting.service import SubscriptionService
from newswatch.pipelines.model import Alert, Subscription, alert_id
from newswatch.pipelines.streaming import prepare

from .conftest import REPO_DIR, count, news_item, settings_env, wait_for
from .test_channels import start_receiver, verify_signature

STRIKE = "Government warplanes carried out airstrikes on rebel positions near Aleppo."
SECRET = "test-signing-key-0123456789"


class Worker:
    """`newswatch alerts deliver` as a process of its own."""

    def __init__(self, settings, log) -> None:
        self.settings, self.log, self.proc = settings, log, None

    def start(self) -> Worker:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "newswatch.pipelines.cli", "alerts", "deliver"],
                                         env=settings_env(self.settings), stdout=out, stderr=subprocess.STDOUT,
                                         cwd=REPO_DIR, start_new_session=True)
        return self

    def kill(self, sig=signal.SIGKILL) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            self.proc.wait(timeout=60)


@pytest.fixture
def worker(settings, tmp_path):
    started: list[Worker] = []

    def start() -> Worker:
        w = Worker(settings, tmp_path / "worker.log").start()
        started.append(w)
        return w

    yield start
    for w in started:
        w.kill()


@pytest.fixture
def receiver():
    receiver, stop = start_receiver()
    yield receiver
    stop()


def _subscribe(settings, receiver, name="strikes", **extra) -> Subscription:
    sub = Subscription(owner="ana", name=name, types=["offensive"],
                       channels=[{"type": "webhook", "url": receiver.url(), "secret": SECRET}], **extra)
    stored, _ = SubscriptionService(settings).save(sub)
    return stored


def _records(settings) -> list[dict]:
    return AlertRecords(SearchBackend(settings.search)).find({"match_all": {}})


def _delivered(settings) -> list[dict]:
    return [r for r in _records(settings) if r["status"] == "delivered"]


def test_an_alert_reaches_the_webhook_signed_once_and_is_recorded(settings, pipeline, worker, receiver):
    sub = _subscribe(settings, receiver)
    proc, w = pipeline(), worker()
    kafka.produce(settings.kafka, [news_item("one", STRIKE)])
    wait_for(lambda: receiver.received, 120, "the webhook call", proc)
    got = receiver.received[0]
    assert verify_signature(SECRET, got.headers, got.body)
    payload = json.loads(got.body)
    assert payload["subscription_id"] == sub.id and got.headers["Idempotency-Key"] == payload["id"]
    assert SECRET.encode() not in got.body
    wait_for(lambda: [r for r in _records(settings) if r["status"] == "delivered"], 60, "the delivered record")
    time.sleep(3)
    assert len(receiver.received) == 1
    log = (w.log.read_text(errors="replace"))
    assert SECRET not in log


def test_a_burst_about_one_place_sends_one_message_and_one_digest(settings, pipeline, worker, receiver):
    _subscribe(settings, receiver, realert_s=5, digest=True)
    pipeline(), worker()
    kafka.produce(settings.kafka, [news_item(f"b{i}", STRIKE) for i in range(6)])
    wait_for(lambda: len(receiver.received) >= 2, 180, "the first alert and the digest")
    time.sleep(3)
    bodies = [json.loads(r.body) for r in receiver.received]
    assert len(bodies) == 2
    assert bodies[1]["kind"] == "digest" and bodies[1]["count"] == 5
    statuses = sorted(r["status"] for r in _records(settings) if r.get("throttle") != "digest")
    assert statuses == ["delivered"] + ["in_digest"] * 5


def test_a_receiver_that_fails_is_retried_then_the_alert_is_dead_lettered(settings, pipeline, worker, receiver):
    settings.alerts.max_attempts = 3
    settings.alerts.backoff_base_s = 0.2
    _subscribe(settings, receiver)
    receiver.answer(503, 503, 503)
    pipeline(), worker()
    kafka.produce(settings.kafka, [news_item("f", STRIKE)])
    wait_for(lambda: [r for r in _records(settings) if r["status"] == "failed"], 180, "the failed record")
    assert len(receiver.received) == 3
    consumer = KafkaConsumer(settings.alerts.dlq_topic, bootstrap_servers=settings.kafka.bootstrap,
                             auto_offset_reset="earliest", consumer_timeout_ms=5000)
    letters = [json.loads(m.value) for m in consumer]
    consumer.close()
    assert len(letters) == 1 and letters[0]["status"] == "failed" and "503" in letters[0]["last_error"]
    failed = subprocess.run([sys.executable, "-m", "newswatch.pipelines.cli", "alerts", "failed", "--json"],
                            env=settings_env(settings), capture_output=True, text=True, cwd=REPO_DIR)
    assert failed.returncode == 0 and json.loads(failed.stdout.splitlines()[0])["status"] == "failed"


def test_a_receiver_that_is_down_then_back_gets_the_alert(settings, pipeline, worker, receiver):
    settings.alerts.backoff_base_s = 0.5
    _subscribe(settings, receiver)
    receiver.answer(502, 502)
    pipeline(), worker()
    kafka.produce(settings.kafka, [news_item("d", STRIKE)])
    wait_for(lambda: [r for r in _records(settings) if r["status"] == "delivered"], 180, "the delivery")
    assert len(receiver.received) == 3
    assert len({r.headers["Idempotency-Key"] for r in receiver.received}) == 1


def test_worker_killed_five_times_repeats_nothing_that_was_recorded(settings, pipeline, worker, receiver):
    _subscribe(settings, receiver, realert_s=0)
    n = 60
    proc = pipeline()
    w = worker()
    kafka.produce(settings.kafka, [news_item(f"k{i}", f"{STRIKE} Report {i}.") for i in range(n)])
    for _ in range(5):
        time.sleep(4)
        w.kill(signal.SIGKILL)
        w = worker()
    wait_for(lambda: count(settings, settings.search.articles_index) == n, 300, "every item", proc)
    wait_for(lambda: len({r.headers["Idempotency-Key"] for r in receiver.received}) == n, 300,
             "every alert at the receiver")
    keys = [r.headers["Idempotency-Key"] for r in receiver.received]
    repeats = len(keys) - len(set(keys))
    print(f"{n} alerts, worker SIGKILLed 5 times: {repeats} repeated at the receiver (the send-record window)")
    # An alert repeats only when a kill lands between its send and its record, so each of the five
    # kills can repeat an alert at most once (how many it repeats depends on where the kill lands).
    assert max(Counter(keys).values()) <= 1 + 5


def _alert_for(sub: Subscription, event_id: str) -> bytes:
    """An alert as the pipeline puts it on the alerts topic."""
    event = {"id": event_id, "type": "offensive", "trigger": {"text": "airstrikes"}, "sentence_text": STRIKE,
             "locations": [{"canonical": "Aleppo", "country": "SY"}]}
    alert = Alert(id=alert_id(sub.id, event_id), subscription_id=sub.id, owner=sub.owner,
                  subscription_name=sub.name, event_id=event_id, event=event,
                  matched_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                  source_timestamp_ms=int(time.time() * 1000))
    return alert.model_dump_json().encode()


def test_a_slow_receiver_does_not_hold_up_another_analysts_alert(settings, worker, receiver):
    slow_s = 3.0  # below alerts.http_timeout_s: the slow receiver answers, late
    slow, stop_slow = start_receiver()
    slow.server.delay_s = slow_s
    try:
        prepare(settings)  # topics and indices, as the pipeline makes them, before anything is stored
        slow_sub = _subscribe(settings, slow, name="slow desk")
        fast_sub = _subscribe(settings, receiver, name="fast desk")
        # One partition, the slow receiver's alert first: the worker polls both at once, and sent
        # one after another the fast desk's alert would wait for the slow answer.
        kafka.produce(settings.kafka, [_alert_for(slow_sub, "ev-slow"), _alert_for(fast_sub, "ev-fast")],
                      topic=settings.alerts.topic, partition=0)
        worker()
        wait_for(lambda: slow.received and receiver.received, 120, "both webhook calls")
        opened, fast_at = slow.received[0].at, receiver.received[0].at
        assert fast_at < opened + slow_s, (
            f"the fast desk got its alert {fast_at - opened:.2f} s after the slow receiver's request opened, "
            f"after that request had been answered ({slow_s:g} s): it waited for the slow receiver")
        wait_for(lambda: len(_delivered(settings)) >= 2, 60, "both delivered records")
        assert {r["subscription_id"] for r in _delivered(settings)} == {slow_sub.id, fast_sub.id}
    finally:
        stop_slow()
