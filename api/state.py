"""What the API's routes share: the stores, the rate limiter, and the few reads that are more
than one call (alert views, the live feed's poll, readiness)."""
from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from newswatch.pipelines.model import Subscription, WebhookChannel
from newswatch.pipelines.settings import Settings

from .auth import Principal, TokenStore
from .limits import RateLimiter
from .models import AlertView, EventHit
from .queries import stream_query, trigger_span

LOG = logging.getLogger("newswatch.api")
FEED_BATCH = 1000


def iso(t: float | None = None) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if t is None else t))


def event_hit(source: dict) -> EventHit:
    return EventHit.model_validate({**source, "trigger_span": trigger_span(source.get("sentence_text"),
                                                                           source.get("trigger"))})


def alert_view(record: dict) -> AlertView:
    event = record.get("event") or {}
    return AlertView.model_validate({
        **record, "state": "acknowledged" if record.get("acknowledged_at") else "new",
        "trigger_span": trigger_span(event.get("sentence_text"), event.get("trigger"))})


def carry_webhook_secrets(new: Subscription, old: Subscription | None) -> tuple[Subscription, list[int]]:
    """A webhook channel sent without its key keeps the key the stored subscription has for the
    same URL (keys are never shown, so a client cannot send them back). Returns the subscription
    and the indexes of webhook channels that still have no key."""
    known = {c.url: c.secret for c in (old.channels if old else []) if isinstance(c, WebhookChannel) and c.secret}
    channels, missing = [], []
    for i, channel in enumerate(new.channels):
        if isinstance(channel, WebhookChannel) and channel.secret is None:
            if channel.url in known:
                channel = channel.model_copy(update={"secret": known[channel.url]})
            else:
                missing.append(i)
        channels.append(channel)
    return new.model_copy(update={"channels": channels}), missing


class ApiState:
    def __init__(self, settings: Settings) -> None:
        from newswatch.connectors.alert_records import AlertRecords
        from newswatch.pipelines.alerting.service import SubscriptionService

        self.settings = settings
        self.service = SubscriptionService(settings)
        self.backend = self.service.backend
        self.records = AlertRecords(self.backend)
        self.tokens = TokenStore(self.backend, settings.api.tokens_index)
        self.limiter = RateLimiter(settings.api.rate_limit_per_minute)
        self.ready = threading.Event()  # indices and templates are in place
        self._readiness: tuple[float, dict[str, str]] | None = None

    # -- start ------------------------------------------------------------------------------------
    def prepare(self) -> None:
        """Index templates, indices and the tokens index, if missing."""
        self.backend.ensure_templates()
        self.tokens.ensure_index()
        self.ready.set()

    def prepare_in_background(self, stop: threading.Event) -> None:
        """Keeps trying while the search engine is down, so the API can start before it."""
        def run() -> None:
            while not stop.is_set():
                try:
                    self.prepare()
                    return
                except Exception as err:  # noqa: BLE001 - any failure: the engine is not ready yet
                    LOG.warning("search engine at %s not ready (%s); retrying in 5 s", self.settings.search.url,
                                type(err).__name__)
                    stop.wait(5)
        threading.Thread(target=run, name="newswatch-api-prepare", daemon=True).start()

    # -- alerts -------------------------------------------------------------------------------------
    def visible_alert(self, alert_id: str, who: Principal) -> dict | None:
        record = self.backend.get(self.settings.search.alerts_index, alert_id)
        if record is None or record.get("throttle") == "digest" or not who.may_see(record.get("owner")):
            return None
        return record

    def acknowledge(self, record: dict, who: Principal) -> dict:
        if record.get("acknowledged_at"):
            return record
        now = iso()
        change = {"acknowledged_at": now, "acknowledged_by": who.user, "updated_at": now}
        self.backend.client.update(index=self.settings.search.alerts_index, id=record["id"], body={"doc": change},
                                   refresh="true")
        return {**record, **change}

    def changed_alerts(self, who: Principal, updated_since: str) -> list[dict]:
        """The live feed's poll: the caller's alerts written or changed since then, oldest first."""
        body = {"size": FEED_BATCH, "query": stream_query(who.owner_filter, updated_since),
                "sort": [{"updated_at": "asc"}, {"id": "asc"}], "_source": {"excludes": ["digest_alerts"]}}
        return [h["_source"] for h in self.backend.search(self.settings.search.alerts_index, body)["hits"]["hits"]]

    # -- readiness ----------------------------------------------------------------------------------
    def readiness(self) -> dict[str, str]:
        """{"kafka": "ok" or the problem, "search": ...}; checked at most once a second."""
        cached = self._readiness
        if cached and time.monotonic() - cached[0] < 1.0:
            return cached[1]
        with ThreadPoolExecutor(max_workers=2) as pool:
            kafka = pool.submit(check_kafka, self.settings)
            search = pool.submit(self._check_search)
            checks = {"kafka": kafka.result(), "search": search.result()}
        self._readiness = (time.monotonic(), checks)
        return checks

    def _check_search(self) -> str:
        if not self.backend.reachable():
            return f"not reachable at {self.settings.search.url}: check search.url and that the engine runs"
        if not self.ready.is_set():
            try:
                self.prepare()
            except Exception as err:  # noqa: BLE001 - reported, not raised
                return f"reachable, but its index templates could not be set up ({type(err).__name__})"
        return "ok"


def check_kafka(settings: Settings) -> str:
    from newswatch.connectors import kafka

    consumer = None
    try:
        consumer = kafka.new_consumer(settings.kafka, bootstrap_timeout_ms=3000, request_timeout_ms=3000,
                                      session_timeout_ms=2000, heartbeat_interval_ms=500)
        consumer.topics()
        return "ok"
    except Exception as err:  # noqa: BLE001 - any failure means "not ready"
        return (f"not reachable at {settings.kafka.bootstrap} ({type(err).__name__}): check kafka.bootstrap "
                "and that the broker runs")
    finally:
        if consumer is not None:
            consumer.close()
