"""`newswatch alerts deliver`: the delivery worker.

Its own consumer group on the alerts topic. For each alert: skip it if the alerts index already
records it (a redelivery after a restart), else throttle (send now, fold into a digest, or
suppress), deliver through every channel of its subscription, record the outcome in the alerts
index, and only then commit the offset. A failed delivery is retried with exponential backoff
and full jitter, from a queue that the alerts index also holds (status `retrying`), so a restart
picks the retries up again; after `alerts.max_attempts` the alert goes to the alerts DLQ with
status `failed`.

Each poll is one cycle. Everything that decides (dedup, throttle, digests, surge counts, the
retry queue) runs in order in the loop's thread, so the decisions do not depend on timing. Only
the sends of the cycle (new alerts, due retries, due digests; each channel on its own) run at
once, at most `alerts.delivery_concurrency` at a time, so a slow receiver holds up nobody else's
alerts by more than its own timeout. The loop thread then settles every record (status, retry,
DLQ), saves them all, and only then commits the offset.

Crash window: an alert sent but not yet recorded (the worker killed between the two; at most
the sends of one cycle) is sent again after a restart, with the same Idempotency-Key, so a
receiver that deduplicates sees it once. Nothing else repeats.
"""
from __future__ import annotations

import calendar
import heapq
import json
import logging
import random
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from newswatch.pipelines.logs import configure_logging
from newswatch.pipelines.model import Alert, Subscription
from newswatch.pipelines.settings import Settings

from .surge import SurgeEvaluator, event_time
from .throttle import DIGEST_SENT, RESTORE_STATUSES, Decision, Digest, Throttle

if TYPE_CHECKING:
    from newswatch.connectors.channels.base import Channel, Delivery, DeliveryError

LOG = logging.getLogger("newswatch.alerts")
FINAL = {"delivered", "failed", "suppressed", "in_digest"}
PARTITIONS_CHECK_S = 10.0  # how often the worker looks for partitions added to the alerts topic


def now_iso(t: float | None = None) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t if t is not None else time.time()))


def backoff_s(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base * 2^attempt)]."""
    return rng.uniform(0, min(cap, base * 2 ** attempt))


@dataclass(order=True)
class _Retry:
    due: float
    alert_id: str = field(compare=False)


@dataclass(eq=False)
class _Outgoing:
    """A record whose pending channels this cycle sends, and what the sends said: the longest
    Retry-After a receiver asked for, and when the last send ended (its delivery time)."""
    record: dict
    sub: Subscription
    retry_after_s: float = 0.0
    sent_at: float = 0.0


@dataclass(eq=False)
class _ChannelSend:
    """One channel of one outgoing record: the only work that leaves the loop thread."""
    outgoing: _Outgoing
    state: dict  # the record's entry for this channel; only the loop thread writes it
    sender: Channel
    delivery: Delivery


@dataclass
class _Cycle:
    """What one cycle decided, in order: records already final, and records to send."""
    final: list[dict] = field(default_factory=list)
    outgoing: list[_Outgoing] = field(default_factory=list)


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
        self._partitions_checked = time.monotonic()
        self.pending: dict[str, dict] = {}  # alert id -> its record, while it awaits a retry
        self.retries: list[_Retry] = []
        self.stopping = False
        self.delivered = 0
        self.pool: ThreadPoolExecutor | None = None  # the senders, while run() runs
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
        cycle = _Cycle()
        for alert in alerts.values():
            if alert.id not in known:
                self._handle(alert, time.time(), cycle)
        return self._complete(cycle)

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

    def _handle(self, alert: Alert, now: float, cycle: _Cycle) -> None:
        """The throttle's decision on a new alert: a final record, or one to send this cycle."""
        sub = self.subs.get(alert.subscription_id)
        if sub is None:
            LOG.warning("alert %s: subscription %s no longer exists; not delivered", alert.id, alert.subscription_id)
            cycle.final.append({**self._record(alert, Decision.SUPPRESS, "suppressed", now),
                                "last_error": "subscription removed"})
            return
        decision = self.throttle.decide(alert, sub, now)
        if decision == Decision.SUPPRESS:
            cycle.final.append(self._record(alert, decision, "suppressed", now))
        elif decision == Decision.FOLD:
            cycle.final.append(self._record(alert, decision, "folded", now))
        else:
            record = self._record(alert, decision, "retrying", now)
            record["channels"] = [{"type": c.type, "status": "pending", "attempts": 0} for c in sub.channels]
            cycle.outgoing.append(_Outgoing(record, sub))

    def _delivery(self, record: dict):
        from newswatch.connectors.channels.base import Delivery

        alerts = [Alert.model_validate(_alert_fields(a)) for a in record["digest_alerts"]] \
            if record.get("digest_alerts") else [Alert.model_validate(_alert_fields(record))]
        return Delivery.of_digest(alerts) if record.get("digest_alerts") else Delivery.single(alerts[0])

    # -- sending: the cycle's sends at once, then settled in order ------------------------------
    def _complete(self, cycle: _Cycle) -> list[dict]:
        """The cycle's records to save: the final ones, and the outgoing ones once sent and settled."""
        return cycle.final + self._send_and_settle(cycle.outgoing)

    def _send_and_settle(self, outgoing: list[_Outgoing]) -> list[dict]:
        sends = [send for item in outgoing for send in self._start_attempt(item)]
        self._send_all(sends)
        return [r for item in outgoing for r in self._expand_digest(self._settle(item))]

    def _start_attempt(self, item: _Outgoing) -> list[_ChannelSend]:
        """Counts the attempt and lists the channels still pending (delivered ones are not sent again)."""
        record = item.record
        record["attempts"] = record.get("attempts", 0) + 1
        delivery = self._delivery(record)
        sends = []
        for state, channel in zip(record["channels"], item.sub.channels, strict=False):
            if state["status"] != "delivered":
                state["attempts"] = state.get("attempts", 0) + 1
                sends.append(_ChannelSend(item, state, self.channels.for_channel(channel), delivery))
        return sends

    def _send_all(self, sends: list[_ChannelSend]) -> None:
        """Sends in the pool (each send bounded by its channel's own timeout) and waits for all of
        them; the outcomes are written here, in the loop thread, so no record is shared."""
        futures = [self.pool.submit(_send_one, send.sender, send.delivery) for send in sends]
        for send, future in zip(sends, futures, strict=True):
            error, ended_at = future.result()
            _note_outcome(send, error, ended_at)

    def _settle(self, item: _Outgoing) -> dict:
        """Status after an attempt: delivered, failed (to the DLQ), or retrying (scheduled)."""
        record = item.record
        states = [c["status"] for c in record["channels"]]
        record["updated_at"] = now_iso()
        errors = [c.get("error") for c in record["channels"] if c.get("error")]
        record["last_error"] = errors[-1] if errors else None
        if "retrying" in states and record["attempts"] < self.s.alerts.max_attempts:
            record["status"] = "retrying"
            wait = max(item.retry_after_s, backoff_s(record["attempts"], self.s.alerts.backoff_base_s,
                                                     self.s.alerts.backoff_max_s, self.rng))
            self._schedule(record, time.time() + wait)
            return record
        self.pending.pop(record["id"], None)
        if all(s == "delivered" for s in states):
            # When its own last send ended, not when the whole cycle did: a slow receiver of
            # another subscription must not show up in this alert's latency.
            delivered_at = item.sent_at or time.time()  # nothing was sent: no channel was pending
            record["status"] = "delivered"
            record["delivered_at"] = now_iso(delivered_at)
            if record.get("source_timestamp_ms"):
                record["latency_ms"] = int(delivered_at * 1000) - record["source_timestamp_ms"]
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
    def _due_work(self, now: float, cycle: _Cycle) -> None:
        for digest in self.throttle.due_digests(now):
            self._add_digest(digest, cycle)
        while self.retries and self.retries[0].due <= now:
            item = heapq.heappop(self.retries)
            record = self.pending.get(item.alert_id)
            sub = self.subs.get(record["subscription_id"]) if record else None
            if record is None or record["status"] != "retrying":
                continue
            if sub is None:
                self.pending.pop(item.alert_id, None)
                cycle.final.append({**record, "status": "failed", "last_error": "subscription removed"})
                continue
            cycle.outgoing.append(_Outgoing(record, sub))

    def _add_digest(self, digest: Digest, cycle: _Cycle) -> None:
        sub = self.subs.get(digest.subscription_id)
        if sub is None:
            return
        first = digest.alerts[0]
        record = {**first.model_dump(mode="json"), "id": digest.id, "kind": first.kind, "throttle": "digest",
                  "status": "retrying", "attempts": 0, "digest_id": digest.id, "decided_at": now_iso(),
                  "digest_alerts": [a.model_dump(mode="json") for a in digest.alerts],
                  "channels": [{"type": c.type, "status": "pending", "attempts": 0} for c in sub.channels]}
        cycle.outgoing.append(_Outgoing(record, sub))

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
        self.pool = ThreadPoolExecutor(self.s.alerts.delivery_concurrency, thread_name_prefix="newswatch-send")
        consumer = None
        try:
            self.records.save(self._rebuild_surges())
            # The whole topic in this one process: the throttle's and the digests' state is this process's
            consumer = kafka.consume_whole_topic(self.s.kafka, self.s.alerts.topic, self.s.alerts.group_id,
                                                 enable_auto_commit=False, auto_offset_reset="earliest",
                                                 max_poll_records=200)
            self.say(f"newswatch: delivering alerts from {self.s.alerts.topic}@{self.s.kafka.bootstrap} "
                     f"({len(self.subs)} subscriptions, up to {self.s.alerts.delivery_concurrency} sends at once; "
                     "Ctrl-C stops)")
            while not self.stopping:
                self._cycle(consumer)
        finally:
            if consumer is not None:
                consumer.close()
            self.pool.shutdown(wait=True)  # a send still running holds a channel the next lines close
            self.producer.close()
            self.channels.close()
        return 0

    def _follow_new_partitions(self, consumer) -> None:
        """Partitions added to the alerts topic while the worker runs are read too (assigned,
        not subscribed, the worker is told of none by a rebalance)."""
        from newswatch.connectors import kafka

        if time.monotonic() - self._partitions_checked < PARTITIONS_CHECK_S:
            return
        self._partitions_checked = time.monotonic()
        new = kafka.assign_new_partitions(consumer, self.s.alerts.topic)
        if new:
            LOG.info("alerts topic %s grew: now also reading partitions %s", self.s.alerts.topic, new)

    def _cycle(self, consumer) -> None:
        batch = consumer.poll(timeout_ms=100)
        now = time.time()
        try:
            self._refresh_subscriptions()
        except Exception as err:  # noqa: BLE001 - keep delivering to the subscriptions we know
            LOG.warning("subscriptions not reloaded (%s)", type(err).__name__)
        try:
            self._follow_new_partitions(consumer)
        except Exception as err:  # noqa: BLE001 - keep reading the partitions we have; looked for again later
            LOG.warning("alerts topic partitions not checked (%s)", type(err).__name__)
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
        cycle = _Cycle()
        for alert in alerts.values():
            if alert.id not in known and alert.id not in self.pending:
                self._handle(alert, now, cycle)
        self._due_work(now, cycle)
        self.records.save(self._complete(cycle))
        if messages:
            consumer.commit()


def _send_one(sender: Channel, delivery: Delivery) -> tuple[DeliveryError | None, float]:
    """Runs in a pool thread. A failed delivery is returned, not raised, for the loop thread to
    record; anything else (a bug) is raised there by future.result() and stops the worker, like
    any unexpected error in the loop."""
    from newswatch.connectors.channels.base import DeliveryError

    try:
        sender.send(delivery)
        return None, time.time()
    except DeliveryError as err:
        return err, time.time()


def _note_outcome(send: _ChannelSend, error: DeliveryError | None, ended_at: float) -> None:
    state, item = send.state, send.outgoing
    item.sent_at = max(item.sent_at, ended_at)
    if error is None:
        state["status"], state["error"] = "delivered", None
        return
    state["status"], state["error"] = ("retrying" if error.retryable else "failed"), error.message
    item.retry_after_s = max(item.retry_after_s, error.retry_after_s or 0.0)


def _alert_fields(record: dict) -> dict:
    return {k: record[k] for k in Alert.model_fields if k in record}


def _epoch(iso: str) -> float:
    return float(calendar.timegm(time.strptime(iso, "%Y-%m-%dT%H:%M:%SZ")))


def deliver(settings: Settings) -> int:
    configure_logging()
    from newswatch.pipelines.streaming import prepare

    prepare(settings)
    return DeliveryWorker(settings).run()
