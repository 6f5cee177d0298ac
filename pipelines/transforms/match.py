"""Match each batch's events against the subscriptions: the records leave with their alerts."""
from __future__ import annotations

import dataclasses
import logging
import time

from newswatch.connectors import metrics
from newswatch.connectors.search_io import BeforeWrite
from newswatch.pipelines.alerting.matching import SubscriptionMatcher, make_alert, match_events
from newswatch.pipelines.alerting.surge import surge_subscriptions
from newswatch.pipelines.model import IndexRequest
from newswatch.pipelines.settings import AlertSettings, SearchSettings

LOG = logging.getLogger(__name__)
OUTAGE_BACKOFF_MAX_S = 30.0


class MatchSubscriptions(BeforeWrite):
    """Each batch's events matched against the subscriptions: the records leave with their alerts.

    Runs in the outbox writer's background thread, before the batch is written (its round trips
    overlap the next records' NLP; see connectors/search_io.py). Keeps an in-process copy of the
    subscriptions, reloaded when the subscriptions index changes (checked at most every
    `alerts.subscriptions_refresh_s`), so a new subscription takes effect within about a second."""

    def __init__(self, search: SearchSettings, alerts: AlertSettings) -> None:
        self.search = search
        self.refresh_s = alerts.subscriptions_refresh_s
        self.rules_file = alerts.rules_file

    def setup(self) -> None:
        from newswatch.connectors.search import SearchBackend
        from newswatch.connectors.subscriptions import SubscriptionStore

        self.store = SubscriptionStore(SearchBackend(self.search))
        # Surge rules see every event of their types: as subscriptions of their own, whose alerts
        # the delivery worker counts instead of delivering (pipelines/alerting/surge.py).
        self.rule_subscriptions = list(surge_subscriptions(self.rules_file).values())
        self.matcher = SubscriptionMatcher(self.rule_subscriptions)
        self._version = None
        self._checked = 0.0

    def _refresh(self) -> None:
        if time.monotonic() - self._checked < self.refresh_s:
            return
        self._checked = time.monotonic()
        try:
            version = self.store.version()
            if version != self._version:
                self.matcher = SubscriptionMatcher(self.store.all() + self.rule_subscriptions)
                self._version = version
                LOG.info("subscriptions reloaded: %d", len(self.matcher))
        except Exception as err:  # noqa: BLE001 - keep matching with what we have; try again soon
            LOG.warning("subscriptions not reloaded (%s); matching with the %d known", type(err).__name__,
                        len(self.matcher))

    def _percolate_until_answered(self, documents, sub_ids):
        pause = 1.0
        while True:
            try:
                return self.store.percolate(documents, sub_ids)
            except Exception as err:  # noqa: BLE001 - an engine outage pauses the stream, like the writer
                LOG.warning("percolation failed (%s); retrying in %.0fs", self.store.backend.scrub(str(err))[:300],
                            pause)
                time.sleep(pause)
                pause = min(pause * 2, OUTAGE_BACKOFF_MAX_S)

    def __call__(self, batch: list[IndexRequest]) -> list[IndexRequest]:
        with metrics.stage_timer("match"):
            return self._with_alerts(batch)

    def _with_alerts(self, batch: list[IndexRequest]) -> list[IndexRequest]:
        self._refresh()
        if not len(self.matcher):
            return batch
        events = [(r, doc) for r in batch for index, _, doc in r.docs if index == self.search.events_index]
        matched = match_events([doc for _, doc in events], self.matcher, self._percolate_until_answered)
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        alerts: dict[int, list] = {}
        for (request, event), subs in zip(events, matched, strict=True):
            alerts.setdefault(id(request), []).extend(
                make_alert(s, event, now, request.record.timestamp_ms) for s in subs)
        return [dataclasses.replace(r, alerts=tuple(alerts.get(id(r), ()))) for r in batch]
