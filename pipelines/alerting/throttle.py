"""Throttle and digest: which alerts go out at once, which are folded into a digest, which are dropped.

Pure and deterministic: the caller passes the time (epoch seconds) to every call, nothing here
reads a clock, does I/O or sleeps. One `Throttle` per delivery worker.

For each key (default: subscription × event type × place) the first alert goes out at once and
opens a window of the subscription's `realert_s`. Repeats inside the window are folded into one
digest, due when the window closes (or dropped, when the subscription has `digest` off). The
first alert after the window goes out at once again and opens the next window. So a burst about
one battle sends one message and one digest, not fifty messages.
"""
from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from newswatch.pipelines.model import Alert, Subscription, digest_id

ThrottleKey = tuple[str, str, str]


class Decision(StrEnum):
    SEND_NOW = "send_now"   # deliver this alert now
    FOLD = "fold"           # it is in the pending digest of its key; deliver the digest when due
    SUPPRESS = "suppress"   # a repeat within realert and the subscription has digest off: deliver nothing


# Restore status of a folded alert whose digest has already been delivered.
DIGEST_SENT = "digest_sent"
RESTORE_STATUSES = (Decision.SEND_NOW.value, Decision.FOLD.value, Decision.SUPPRESS.value, DIGEST_SENT)


def default_key(alert: Alert) -> ThrottleKey:
    """(subscription id, event type, first place's canonical name, else its country, else "-").
    A surge alert is keyed by its rule alone: the rule already fires once per window, and a
    sustained surge should fold however its places vary."""
    if alert.kind == "surge":
        return (alert.subscription_id, "surge", "-")
    event = alert.event
    locations = event.get("locations") or []
    first = locations[0] if locations else {}
    place = first.get("canonical") or first.get("country") or "-"
    return (alert.subscription_id, str(event.get("type") or "-"), str(place))


@dataclass(frozen=True)
class Digest:
    """The repeats of one key folded during one window, due when the window closes."""
    id: str
    key: ThrottleKey
    subscription_id: str
    window_start: float
    due_at: float
    alerts: tuple[Alert, ...]  # in the order they were folded

    @property
    def alert_ids(self) -> tuple[str, ...]:
        return tuple(a.id for a in self.alerts)


@dataclass(eq=False)
class _Window:
    key: ThrottleKey
    subscription_id: str
    start: float
    due_at: float
    decisions: dict[str, Decision] = field(default_factory=dict)
    folded: list[Alert] = field(default_factory=list)

    def fold(self, alert: Alert) -> None:
        if alert.id not in self.decisions:
            self.folded.append(alert)
        self.decisions[alert.id] = Decision.FOLD

    def digest(self) -> Digest:
        return Digest(digest_id(a.id for a in self.folded), self.key, self.subscription_id,
                      self.start, self.due_at, tuple(self.folded))


class Throttle:
    """Decides, per alert, SEND_NOW, FOLD or SUPPRESS, and hands out the digests that are due.

    Memory holds only open windows: a window is dropped by `due_digests` once it has closed (its
    digest, if any, handed out), so memory is bounded by the alerts of the last `realert_s`.
    """

    def __init__(self, key: Callable[[Alert], ThrottleKey] = default_key) -> None:
        self._key = key
        self._windows: dict[ThrottleKey, _Window] = {}
        self._closing: list[tuple[float, int, _Window]] = []  # heap by due time; stale entries skipped
        self._ready: list[Digest] = []  # digests of windows replaced before due_digests collected them
        self._seq = 0

    def __len__(self) -> int:
        """Open windows (keys) held in memory."""
        return len(self._windows)

    def decide(self, alert: Alert, subscription: Subscription, now: float) -> Decision:
        """Idempotent per alert id within its window: deciding the same alert again (a redelivery)
        returns the first decision and changes nothing."""
        if alert.subscription_id != subscription.id:
            raise ValueError(f"alert {alert.id} belongs to subscription {alert.subscription_id!r}, "
                             f"not {subscription.id!r}: pass the alert's own subscription")
        if subscription.realert_s <= 0:
            return Decision.SEND_NOW  # no throttle asked for: nothing to remember
        key = self._key(alert)
        window = self._windows.get(key)
        if window is not None and alert.id in window.decisions:
            return window.decisions[alert.id]
        if window is None or now >= window.due_at:
            window = self._open(key, alert.subscription_id, now, now + subscription.realert_s)
            window.decisions[alert.id] = Decision.SEND_NOW
            return Decision.SEND_NOW
        if subscription.digest:
            window.fold(alert)
            return Decision.FOLD
        window.decisions[alert.id] = Decision.SUPPRESS
        return Decision.SUPPRESS

    def due_digests(self, now: float) -> list[Digest]:
        """The digests whose window closed by `now`, oldest first; each is handed out once. Closed
        windows are forgotten here, which is what bounds memory: call it regularly (every second)."""
        due, self._ready = self._ready, []
        while self._closing and self._closing[0][0] <= now:
            _, _, window = heapq.heappop(self._closing)
            if self._windows.get(window.key) is not window:
                continue  # replaced by a newer window of the same key; its digest went to _ready
            del self._windows[window.key]
            if window.folded:
                due.append(window.digest())
        due.sort(key=lambda d: (d.due_at, d.id))
        return due

    @classmethod
    def restore(cls, records: Iterable[tuple[Alert, str, float]], subscriptions: Mapping[str, Subscription],
                key: Callable[[Alert], ThrottleKey] = default_key) -> Throttle:
        """Rebuild after a restart from the decisions already recorded, so that a restart neither
        re-sends an alert nor loses a pending digest.

        `records` are (alert, status, decided_at) with status one of RESTORE_STATUSES: the
        decision taken ("send_now", "fold", "suppress"), or "digest_sent" for a folded alert whose
        digest was delivered. Pass every record decided within the longest realert_s before now,
        plus every record still "fold" whatever its age. Digests of windows that closed while the
        worker was down come out of the first `due_digests(now)`. Records of subscriptions absent
        from `subscriptions` (deleted) are skipped: there is no channel left to deliver them to.
        """
        throttle = cls(key)
        for alert, status, decided_at in sorted(records, key=lambda r: (r[2], r[0].id)):
            status = _restore_status(alert, status)
            subscription = subscriptions.get(alert.subscription_id)
            if subscription is not None and subscription.realert_s > 0:
                throttle._replay(alert, status, decided_at, subscription.realert_s)
        return throttle

    def _replay(self, alert: Alert, status: str, decided_at: float, realert_s: int) -> None:
        key = self._key(alert)
        window = self._windows.get(key)
        if status == Decision.SEND_NOW.value or window is None or decided_at >= window.due_at:
            # A repeat whose opening alert is older than the records (an orphan) opens its own
            # window at its time: its digest comes at most realert_s late, never lost.
            window = self._open(key, alert.subscription_id, decided_at, decided_at + realert_s)
        if status == Decision.SEND_NOW.value:
            window.decisions[alert.id] = Decision.SEND_NOW
        elif status == Decision.FOLD.value:
            window.fold(alert)
        elif status == DIGEST_SENT:
            window.decisions[alert.id] = Decision.FOLD  # known, but not to be delivered again
        elif status == Decision.SUPPRESS.value:
            window.decisions[alert.id] = Decision.SUPPRESS

    def _open(self, key: ThrottleKey, subscription_id: str, start: float, due_at: float) -> _Window:
        old = self._windows.get(key)
        if old is not None and old.folded:
            self._ready.append(old.digest())  # closed but not yet collected: keep its digest
        window = _Window(key, subscription_id, start, due_at)
        self._windows[key] = window
        self._seq += 1
        heapq.heappush(self._closing, (due_at, self._seq, window))
        return window


def _restore_status(alert: Alert, status: str) -> str:
    value = status.value if isinstance(status, Decision) else status
    if value not in RESTORE_STATUSES:
        raise ValueError(f"alert {alert.id} has throttle status {status!r}; expected one of "
                         f"{', '.join(RESTORE_STATUSES)} (record the Decision value, or {DIGEST_SENT!r} "
                         "once its digest is delivered)")
    return value
