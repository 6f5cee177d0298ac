"""`newswatch alerts deliver`: the delivery worker.

Its own consumer group on the alerts topic. For each alert: skip it if the alerts index already
records it (a redelivery after a restart), else throttle (send now, fold into a digest, or
suppress), deliver through every channel of its subscription, record the outcome in the alerts
index, and only then commit the offset. A failed delivery is retried with exponential backoff
and full jitter, from a queue that the alerts index also holds (status `retrying`), so a restart
picks the retries up again; after `alerts.max_attempts` the alert goes to the alerts DLQ with
status `failed`.

Crash window: an alert sent but not yet recorded (the worker killed between the two) is sent
again after a restart, with the same Idempotency-Key, so a receiver that deduplicates sees it
once. Nothing else repeats.
"""
from __future__ import annotations

import calendar
import heapq
import json
import logging
import random
import signal
import time
from dataclasses import dataclass, field

from newswatch.pipelines.model import Alert, Subscription
from newswatch.pipelines.settings import Settings

from .surge import SurgeEvaluator, event_time
from .throttle import DIGEST_SENT, RESTORE_STATUSES, Decision, Digest, Throttle

LOG = logging.getLogger("newswatch.alerts")
FINAL = {"delivered", "failed", "suppressed", "in_digest"}


def now_iso(t: float | None = None) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t if t is not None else time.time()))


def backoff_s(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base * 2^attempt)]."""
    return rng.uniform(0, min(cap, base * 2 ** attempt))


@dataclass(order=True)
class _Retry:
    due: float
    alert_id: str = field(compare=False)


class DeliveryWorker:
    def __init__(self, settings: Settings, say=print) -> None:
        from newswatch.connectors.alert_records import AlertRecords
        from newswatch.connectors.channels.base import Channels
        from newswatch.connectors.search import SearchBackend
        from newswatch.connectors.subscriptions import SubscriptionStore

        self.s = settings
        self.say = say
        backend = SearchBackend(settings.search)
        self.records = AlertRecords(backend)
        self.store = SubscriptionStore(backend)
        self.channels = Channels(settings)
        self.rng = random.Random()
        self.subs: dict[str, Subscription] = {}
        self._subs_version = None
        self._subs_checked = 0.0
        self.pending: dict[str, dict] = {}  # alert id -> its record, while it awaits a retry
        self.retries: list[_Retry] = []
        self.stopping = False
        self.delivered = 0
        rules = settings.alerts.rules_file
        self.surge = SurgeEvaluator.from_file(rules) if rules else None
        self.rule_subs = self.surge.subscriptions() if self.surge else {}

    # -- subscriptions --------------------------------------------------------------------------
    def _refresh_subscriptions(self, force: bool = False) -> None:
        if not force and time.monotonic() - self._subs_checked < self.s.alerts.subscriptions_refresh_s:
            return
        self._subs_checked = time.monotonic()
        version = self.store.version()
        if force or version != self._subs_version:
            self.subs = {s.id: s for s in self.store.all(with_secrets=True)} | self.rule_subs
            self._subs_version = version

    # -- start: rebuild throttle windows and the retry queue from the alerts index --------------
    def _restore(self) -> None:
        longest = max((s.realert_s for s in self.subs.values()), default=0)
        since = now_iso(time.time() - longest)
        recent = self.records.find({"bool": {"should": [{"range": {"decided_at": {"gte": since}}},
                                                        {"term": {"throttle": Decision.FOLD.value}}]}})
        restorable = [(Alert.model_validate(_alert_fields(r)), r["throttle"], _epoch(r["decided_at"]))
                      for r in recent if r.get("throttle") in RESTORE_STATUSES]
        self.throttle = Throttle.restore(restorable, self.subs)
        for record in self.records.find({"term": {"status": "retrying"}}):
            self._schedule(record, time.time())
        LOG.info("restored %d throttle record(s) and %d pending retr(ies)", len(restorable), len(self.pending))

    def _rebuild_surges(self) -> list[dict]:
        """Counts of the surge rules from the events index; firings the replay finds that were never
        recorded (the worker was down when they crossed) are delivered now."""
        if self.surge is None:
            return []
        since = now_iso(time.time() - self.surge.rebuild_span_s)
        types = sorted({t for sub in self.rule_subs.values() for t in sub.types})
        query = {"bool": {"filter": [{"range": {"ingested_at": {"gte": since}}}, {"terms": {"type": types}}]}}
        body = {"size": 10_000, "query": query, "_source": {"excludes": ["text"]}}
        hits = self.records.backend.search(self.s.search.events_index, body)["hits"]["hits"]
        events = [(h["_source"], event_time(h["_source"]) or time.time()) for h in hits]
        alerts = {f.id: f.to_alert(now_iso()) for f in self.surge.rebuild(events)}
        known = self.records.existing(alerts)
        return [r for a in alerts.values() if a.id not in known for r in self._expand_digest(self._handle(a, time.time()))]

    def _observe_for_rules(self, alerts: dict[str, Alert]) -> dict[str, Alert]:
        """Alerts addressed to a surge rule feed its counts; the firings they cause replace them."""
        out: dict[str, Alert] = {}
        for alert in alerts.values():
            if alert.subscription_id not in self.rule_subs or alert.kind != "event":
                out[alert.id] = alert
                continue
            for firing in self.surge.observe(alert.event, event_time(alert.event) or time.time()):
                out[firing.id] = firing.to_alert(now_iso())
        return out

    # -- one alert --------------------------------------------------------------------------------
    def _record(self, alert: Alert, decision: Decision | str, status: str, decided_at: float) -> dict:
        return {**alert.model_dump(mode="json"), "throttle": str(decision), "status": status, "attempts": 0,
                "channels": [], "decided_at": now_iso(decided_at), "updated_at": now_iso()}

    def _handle(self, alert: Alert, now: float) -> dict | None:
        sub = self.subs.get(alert.subscription_id)
        if sub is None:
            LOG.warning("alert %s: subscription %s no longer exists; not delivered", alert.id, alert.subscription_id)
            return {**self._record(alert, Decision.SUPPRESS, "suppressed", now), "last_error": "subscription removed"}
        decision = self.throttle.decide(alert, sub, now)
        if decision == Decision.SUPPRESS:
            return self._record(alert, decision, "suppressed", now)
        if decision == Decision.FOLD:
            return self._record(alert, decision, "folded", now)
        record = self._record(alert, decision, "retrying", now)
        record["channels"] = [{"type": c.type, "status": "pending", "attempts": 0} for c in sub.channels]
        return self._attempt(record, sub)

    def _delivery(self, record: dict):
        from newswatch.connectors.channels.base import Delivery

        alerts = [Alert.model_validate(_alert_fields(a)) for a in record["digest_alerts"]] \
            if record.get("digest_alerts") else [Alert.model_validate(_alert_fields(record))]
        return Delivery.of_digest(alerts) if record.get("digest_alerts") else Delivery.single(alerts[0])

    def _attempt(self, record: dict, sub: Subscription) -> dict:
        """Send over every channel still pending; record what happened; schedule a retry or fail."""
        from newswatch.connectors.channels.base import DeliveryError

        delivery = self._delivery(record)
        record["attempts"] = record.get("attempts", 0) + 1
        retry_after = 0.0
        for state, channel in zip(record["channels"], sub.channels, strict=False):
            if state["status"] == "delivered":
                continue
            state["attempts"] = state.get("attempts", 0) + 1
            try:
                self.channels.for_channel(channel).send(delivery)
                state["status"], state["error"] = "delivered", None
            except DeliveryError as err:
                state["status"], state["error"] = ("retrying" if err.retryable else "failed"), err.message
                retry_after = max(retry_after, err.retry_after_s or 0.0)
        return self._settle(record, retry_after)

    def _settle(self, record: dict, retry_after: float) -> dict:
        states = [c["status"] for c in record["channels"]]
        record["updated_at"] = now_iso()
        errors = [c.get("error") for c in record["channels"] if c.get("error")]
        record["last_error"] = errors[-1] if errors else None
        if "retrying" in states and record["attempts"] < self.s.alerts.max_attempts:
            record["status"] = "retrying"
            wait = max(retry_after, backoff_s(record["attempts"], self.s.alerts.backoff_base_s,
                                              self.s.alerts.backoff_max_s, self.rng))
            self._schedule(record, time.time() + wait)
            return record
        self.pending.pop(record["id"], None)
        if all(s == "delivered" for s in states):
            record["status"] = "delivered"
            record["delivered_at"] = now_iso()
            if record.get("source_timestamp_ms"):
                record["latency_ms"] = int(time.time() * 1000) - record["source_timestamp_ms"]
            self.delivered += 1
        else:
            record["status"] = "failed"
            self._dead_letter(record)
        return record

    def _schedule(self, record: dict, due: float) -> None:
        self.pending[record["id"]] = record
        heapq.heappush(self.retries, _Retry(due, record["id"]))

    def _dead_letter(self, record: dict) -> None:
        LOG.error("alert %s failed after %d attempt(s): %s", record["id"], record["attempts"], record["last_error"])
        self.producer.send(self.s.alerts.dlq_topic, key=record["id"].encode(),
                           value=json.dumps(record, ensure_ascii=False).encode()).get(timeout=60)

    # -- digests and retries that are due ------------------------------------------------------
    def _due_work(self, now: float) -> list[dict]:
        out = []
        for digest in self.throttle.due_digests(now):
            out.extend(self._send_digest(digest))
        while self.retries and self.retries[0].due <= now:
            item = heapq.heappop(self.retries)
            record = self.pending.get(item.alert_id)
            sub = self.subs.get(record["subscription_id"]) if record else None
            if record is None or record["status"] != "retrying":
                continue
            if sub is None:
                self.pending.pop(item.alert_id, None)
                out.append({**record, "status": "failed", "last_error": "subscription removed"})
                continue
            out.extend(self._expand_digest(self._attempt(record, sub)))
        return out

    def _send_digest(self, digest: Digest) -> list[dict]:
        sub = self.subs.get(digest.subscription_id)
        if sub is None:
            return []
        first = digest.alerts[0]
        record = {**first.model_dump(mode="json"), "id": digest.id, "kind": first.kind, "throttle": "digest",
                  "status": "retrying", "attempts": 0, "digest_id": digest.id, "decided_at": now_iso(),
                  "digest_alerts": [a.model_dump(mode="json") for a in digest.alerts],
                  "channels": [{"type": c.type, "status": "pending", "attempts": 0} for c in sub.channels]}
        return self._expand_digest(self._attempt(record, sub))

    def _expand_digest(self, record: dict) -> list[dict]:
        """A settled digest also marks the alerts it carried (their throttle state: digest sent)."""
        if not record.get("digest_alerts") or record["status"] == "retrying":
            return [record]
        stored = {k: v for k, v in record.items() if k != "digest_alerts"}
        members = [{**a, "throttle": DIGEST_SENT, "status": "in_digest" if record["status"] == "delivered"
                    else "failed", "digest_id": record["id"], "updated_at": now_iso()} for a in record["digest_alerts"]]
        return [stored, *members]

    # -- the loop -------------------------------------------------------------------------------
    def run(self) -> int:
        from newswatch.connectors import kafka

        signal.signal(signal.SIGTERM, lambda *_: setattr(self, "stopping", True))
        signal.signal(signal.SIGINT, lambda *_: setattr(self, "stopping", True))
        self._refresh_subscriptions(force=True)
        self._restore()
        self.producer = kafka.producer(self.s.kafka)
        self.records.save(self._rebuild_surges())
        consumer = kafka.new_consumer(self.s.kafka, group_id=self.s.alerts.group_id, enable_auto_commit=False,
                                      auto_offset_reset="earliest", max_poll_records=200)
        consumer.subscribe([self.s.alerts.topic])
        self.say(f"newswatch: delivering alerts from {self.s.alerts.topic}@{self.s.kafka.bootstrap} "
                 f"({len(self.subs)} subscriptions; Ctrl-C stops)")
        try:
            while not self.stopping:
                self._cycle(consumer)
        finally:
            consumer.close()
            self.producer.close()
            self.channels.close()
        return 0

    def _cycle(self, consumer) -> None:
        batch = consumer.poll(timeout_ms=100)
        now = time.time()
        try:
            self._refresh_subscriptions()
        except Exception as err:  # noqa: BLE001 - keep delivering to the subscriptions we know
            LOG.warning("subscriptions not reloaded (%s)", type(err).__name__)
        messages = [m for msgs in batch.values() for m in msgs]
        alerts: dict[str, Alert] = {}  # by id: a replayed record may have produced an alert twice
        for m in messages:
            try:
                alert = Alert.model_validate_json(m.value)
                alerts[alert.id] = alert
            except ValueError as err:
                LOG.error("alerts topic offset %s:%s is not an alert (%s); skipped", m.partition, m.offset, err)
        alerts = self._observe_for_rules(alerts)
        known = self.records.existing(alerts)
        records = [r for a in alerts.values() if a.id not in known and a.id not in self.pending
                   for r in self._expand_digest(self._handle(a, now))]
        records += self._due_work(now)
        self.records.save(records)
        if messages:
            consumer.commit()


def _alert_fields(record: dict) -> dict:
    return {k: record[k] for k in Alert.model_fields if k in record}


def _epoch(iso: str) -> float:
    return float(calendar.timegm(time.strptime(iso, "%Y-%m-%dT%H:%M:%SZ")))


def deliver(settings: Settings) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    from newswatch.pipelines.streaming import prepare

    prepare(settings)
    return DeliveryWorker(settings).run()
