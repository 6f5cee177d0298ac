"""Surge rules: fire when events of some types surge in a place, over event time.

Two kinds of rule (schemas/surge_rules.schema.json, example pipelines/data/surge_rules.yaml):
- "count": at least `min_count` matching events within `radius_km` of a point (haversine) or in
  a country, within `window_minutes`: a sliding window ending at the latest matching event;
- "ratio": matching events in a country over the last `period_hours` at least `factor` times
  those of the `period_hours` before, and at least `min_count`.

A rule fires at the event that crosses its threshold, then stays quiet until its window has
passed (count: `window_minutes`, ratio: `period_hours` after the firing's window end), so it
fires once per window. Pure and deterministic: the caller passes each event's time; the firing
id is a hash of the rule id and the window start, so replaying the same events (a restart that
rebuilds from the events index) yields the same ids, which the delivery path deduplicates.

A `SurgeEvaluator` owns its rules and its counts (no module-level state): build another one
for another rule set.
"""
from __future__ import annotations

import bisect
import hashlib
import heapq
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from newswatch.pipelines.model import Alert, Channel, EventType, GeoPoint, Subscription
from newswatch.pipelines.nlp.resources import DATA_DIR, SCHEMA_DIR, DataFileError

DEFAULT_RULES_PATH = DATA_DIR / "surge_rules.yaml"
RULES_SCHEMA_PATH = SCHEMA_DIR / "surge_rules.schema.json"
SURGE_OWNER = "surge-rules"      # owner of the pseudo-subscription a rule's alerts come from
MAX_LISTED_EVENTS = 100          # a firing lists at most this many (the newest) of its events' ids
EARTH_RADIUS_KM = 6371.0088      # mean Earth radius (IUGG)


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance between two points in km."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def event_time(event: dict) -> float | None:
    """An event document's time in epoch seconds: its article's `published_at`, else when it was
    ingested; None when neither parses. A helper for callers; observe() takes the time as given."""
    for name in ("published_at", "ingested_at"):
        value = event.get(name)
        if isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError:
                continue
            return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
    return None


# --- rules ------------------------------------------------------------------------------------

class _RuleBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,58}$")
    name: str = Field(min_length=1, max_length=200)
    types: list[EventType] = Field(min_length=1)
    subtypes: list[str] = Field(default_factory=list)
    min_confidence: float = Field(default=0.0, ge=0, le=1)
    channels: list[Channel] = Field(min_length=1)
    realert_s: int = Field(ge=0, le=7 * 86400)
    digest: bool = False

    @property
    def subscription_id(self) -> str:
        return f"surge-{self.id}"

    def as_subscription(self) -> Subscription:
        """The pseudo-subscription the rule's alerts are delivered and throttled under. For the
        delivery worker only: never store it in the subscriptions index (it would match events)."""
        return Subscription(id=self.subscription_id, owner=SURGE_OWNER, name=self.name, types=list(self.types),
                            channels=list(self.channels), realert_s=self.realert_s, digest=self.digest)

    def matches(self, event: dict) -> bool:
        if event.get("type") not in self.types:
            return False
        if self.subtypes and event.get("subtype") not in self.subtypes:
            return False
        if float(event.get("confidence", 1.0)) < self.min_confidence:
            return False
        return self._in_area(event.get("locations") or [])

    def _in_area(self, locations: list[dict]) -> bool:
        raise NotImplementedError


def _in_country(country: str, locations: list[dict]) -> bool:
    return any(str(loc.get("country") or "").upper() == country for loc in locations)


class CountRule(_RuleBase):
    kind: Literal["count"]
    min_count: int = Field(ge=1)
    window_minutes: float = Field(gt=0, le=7 * 24 * 60)
    near: GeoPoint | None = None
    radius_km: float | None = Field(default=None, gt=0, le=20_000)
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")

    @model_validator(mode="after")
    def _one_area(self) -> CountRule:
        has_point = self.near is not None or self.radius_km is not None
        if has_point == (self.country is not None) or (self.near is None) != (self.radius_km is None):
            raise ValueError(f"count rule {self.id!r}: give either near (a point) with radius_km, or country")
        return self

    @property
    def window_s(self) -> float:
        return self.window_minutes * 60

    def _in_area(self, locations: list[dict]) -> bool:
        if self.country is not None:
            return _in_country(self.country, locations)
        return any(loc.get("lat") is not None and loc.get("lon") is not None
                   and haversine_km(self.near.lat, self.near.lon, loc["lat"], loc["lon"]) <= self.radius_km
                   for loc in locations)


class RatioRule(_RuleBase):
    kind: Literal["ratio"]
    country: str = Field(pattern=r"^[A-Z]{2}$")
    period_hours: float = Field(gt=0, le=7 * 24)
    factor: float = Field(gt=1)
    min_count: int = Field(ge=1)

    @property
    def window_s(self) -> float:
        return self.period_hours * 3600

    def _in_area(self, locations: list[dict]) -> bool:
        return _in_country(self.country, locations)


SurgeRule = Annotated[CountRule | RatioRule, Field(discriminator="kind")]
_RULES = TypeAdapter(list[SurgeRule])


def load_rules(path: Path | str | None = None) -> list[CountRule | RatioRule]:
    """Read a rules file (default: the bundled pipelines/data/surge_rules.yaml) and validate it
    against schemas/surge_rules.schema.json; a broken file fails here, at start-up."""
    path = Path(path) if path is not None else DEFAULT_RULES_PATH
    if not path.exists():
        raise DataFileError(f"surge rules file {path} is missing: create it (see pipelines/data/surge_rules.yaml) "
                            "or point to an existing one")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        detail = " ".join(str(err).split())  # one line: the parser's message spans several
        raise DataFileError(f"{path} is not valid YAML ({detail}); fix its syntax") from None
    return parse_rules(data, source=str(path))


def parse_rules(data: Any, source: str = "surge rules") -> list[CountRule | RatioRule]:
    """Validate already-parsed rules data: the JSON Schema first, then the models and unique ids."""
    import jsonschema

    schema = _read_schema()
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(data))
    if errors:
        error = _most_useful(errors)
        where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        message = error.schema.get("description") if error.validator in _VAGUE else None
        raise DataFileError(f"{source} is invalid at {where}: {message or error.message}. "
                            "Fix the file so it matches schemas/surge_rules.schema.json.")
    try:
        rules = _RULES.validate_python(data["rules"])
    except ValidationError as err:
        raise DataFileError(f"{source} is invalid: {err}. Fix the file so it matches "
                            "schemas/surge_rules.schema.json.") from None
    seen: set[str] = set()
    for rule in rules:
        if rule.id in seen:
            raise DataFileError(f"{source} has two rules with id {rule.id!r}: give each rule its own id")
        seen.add(rule.id)
    return rules


# Errors that say only "something in here is wrong": a failed kind-specific branch also reports
# all its fields as unevaluated, and oneOf dumps the whole rule.
_VAGUE = {"unevaluatedProperties", "oneOf", "anyOf"}


def _most_useful(errors: list) -> Any:
    """The most specific error: the deepest one that names what is wrong, if there is one."""
    specific = [e for e in errors if e.validator not in _VAGUE]
    return max(specific or errors, key=lambda e: len(e.absolute_path))


def _read_schema() -> dict:
    import json

    if not RULES_SCHEMA_PATH.exists():
        raise DataFileError(f"schema {RULES_SCHEMA_PATH} is missing; reinstall newswatch or restore it from git")
    return json.loads(RULES_SCHEMA_PATH.read_text(encoding="utf-8"))


# --- firings ----------------------------------------------------------------------------------

def firing_id(rule_id: str, window_start: float) -> str:
    """Deterministic: the same rule over the same window has the same id, on a replay too."""
    return hashlib.sha256(f"surge\x1e{rule_id}\x1f{round(window_start * 1000)}".encode()).hexdigest()[:32]


def _iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass(frozen=True)
class SurgeFiring:
    id: str
    rule: CountRule | RatioRule
    window_start: float            # epoch s, exclusive: the window is (window_start, window_end]
    window_end: float              # epoch s: the time of the latest matching event
    count: int                     # matching events in the window
    previous_count: int | None     # ratio rules: matching events in the period before
    event: dict                    # the event that crossed the threshold
    event_ids: tuple[str, ...]     # the window's events (newest MAX_LISTED_EVENTS), oldest first

    def summary(self) -> dict:
        rule = self.rule
        summary = {"firing_id": self.id, "rule_id": rule.id, "rule_name": rule.name, "kind": rule.kind,
                   "types": list(rule.types), "count": self.count, "min_count": rule.min_count,
                   "window_start": _iso(self.window_start), "window_end": _iso(self.window_end),
                   "event_ids": list(self.event_ids)}
        if isinstance(rule, RatioRule):
            summary.update(country=rule.country, previous_count=self.previous_count, factor=rule.factor)
        elif rule.country is not None:
            summary.update(country=rule.country)
        else:
            summary.update(near=rule.near.model_dump(), radius_km=rule.radius_km)
        return summary

    def to_alert(self, matched_at: str) -> Alert:
        """The alert to deliver: its id is the firing id; `event` is the crossing event with the
        firing under "surge"."""
        return Alert(id=self.id, kind="surge", subscription_id=self.rule.subscription_id, owner=SURGE_OWNER,
                     subscription_name=self.rule.name, event_id=str(self.event.get("id") or self.id),
                     event={**self.event, "surge": self.summary()}, matched_at=matched_at)


# --- evaluation -------------------------------------------------------------------------------

@dataclass
class _RuleCounts:
    """One rule's matching events within its span, sorted by time, and when it may fire again."""
    times: list[float] = field(default_factory=list)  # sorted; ids[i] is the id of the event at times[i]
    ids: list[str] = field(default_factory=list)
    latest: float = -math.inf
    quiet_until: float = -math.inf

    def add(self, time: float, event_id: str, span_s: float) -> None:
        at = bisect.bisect_right(self.times, time)
        self.times.insert(at, time)
        self.ids.insert(at, event_id)
        self.latest = max(self.latest, time)
        cut = bisect.bisect_right(self.times, self.latest - span_s)
        del self.times[:cut], self.ids[:cut]  # older than any window this rule looks at

    def count_between(self, start: float, end: float) -> int:
        """Events with start < time <= end."""
        return bisect.bisect_right(self.times, end) - bisect.bisect_right(self.times, start)

    def ids_between(self, start: float, end: float) -> tuple[str, ...]:
        lo, hi = bisect.bisect_right(self.times, start), bisect.bisect_right(self.times, end)
        return tuple(self.ids[max(lo, hi - MAX_LISTED_EVENTS):hi])


def _span_s(rule: CountRule | RatioRule) -> float:
    """How far back from its latest event a rule looks: one window, or two periods for a ratio."""
    return rule.window_s if isinstance(rule, CountRule) else 2 * rule.window_s


def _evaluate(rule: CountRule | RatioRule, counts: _RuleCounts, event: dict) -> SurgeFiring | None:
    end = counts.latest
    if end < counts.quiet_until:
        return None  # fired for this window already
    start = end - rule.window_s
    current = counts.count_between(start, end)
    previous = None
    if isinstance(rule, RatioRule):
        previous = counts.count_between(start - rule.window_s, start)
        crossed = current >= rule.min_count and current >= rule.factor * previous
    else:
        crossed = current >= rule.min_count
    if not crossed:
        return None
    counts.quiet_until = end + rule.window_s
    return SurgeFiring(firing_id(rule.id, start), rule, start, end, current, previous, event,
                       counts.ids_between(start, end))


class SurgeEvaluator:
    """Counts matching events per rule in memory and says which rules an event makes fire.

    Memory is bounded: each rule keeps only the events within its span of its latest event, and
    the event ids remembered for de-duplication are dropped past the largest span."""

    def __init__(self, rules: Iterable[CountRule | RatioRule]) -> None:
        self._rules: tuple[CountRule | RatioRule, ...] = tuple(rules)
        ids = [r.id for r in self._rules]
        if len(ids) != len(set(ids)):
            raise ValueError(f"surge rule ids must be unique, got {sorted(ids)}: rename the duplicates")
        self._max_span = max((_span_s(r) for r in self._rules), default=0.0)
        self._reset()

    @classmethod
    def from_file(cls, path: Path | str | None = None) -> SurgeEvaluator:
        return cls(load_rules(path))

    @property
    def rules(self) -> tuple[CountRule | RatioRule, ...]:
        return self._rules

    @property
    def rebuild_span_s(self) -> float:
        """How far back `rebuild` needs events: a rule's span, plus one window to know whether it
        already fired for the current one (and so not fire it again under another id)."""
        return max((_span_s(r) + r.window_s for r in self._rules), default=0.0)

    def subscriptions(self) -> dict[str, Subscription]:
        """The rules' pseudo-subscriptions by id, for the throttle (decide, restore)."""
        return {r.subscription_id: r.as_subscription() for r in self._rules}

    def held(self) -> int:
        """Events held in memory, over all rules."""
        return sum(len(c.times) for c in self._counts)

    def observe(self, event: dict, event_time: float) -> list[SurgeFiring]:
        """The firings this event causes (usually none). An event id seen before (a redelivery, or
        an event also loaded by rebuild) is not counted again; an event older than the largest
        window before the latest one seen can no longer count and is ignored."""
        if event_time <= self._watermark - self._max_span:
            return []
        event_id = str(event.get("id") or "")
        if event_id in self._seen:
            return []
        self._watermark = max(self._watermark, event_time)
        if event_id:  # an event without an id cannot be recognized again: it is simply counted
            self._remember(event_id, event_time)
        firings = []
        for rule, counts in zip(self._rules, self._counts, strict=True):
            if rule.matches(event):
                counts.add(event_time, event_id, _span_s(rule))
                firing = _evaluate(rule, counts, event)
                if firing is not None:
                    firings.append(firing)
        return firings

    def rebuild(self, events: Iterable[tuple[dict, float]]) -> list[SurgeFiring]:
        """Forget everything and replay past (event document, event time) pairs in time order:
        at start-up, the events of the last `rebuild_span_s` from the events index. Returns the firings the replay
        produced: their ids are those of the live run, so the caller delivers only the ones not
        yet recorded (a firing whose delivery a crash interrupted)."""
        self._reset()
        firings: list[SurgeFiring] = []
        for event, time in sorted(events, key=lambda pair: (pair[1], str(pair[0].get("id") or ""))):
            firings.extend(self.observe(event, time))
        return firings

    def _reset(self) -> None:
        self._counts = [_RuleCounts() for _ in self._rules]
        self._seen: dict[str, float] = {}
        self._seen_by_time: list[tuple[float, str]] = []  # heap, to drop old ids
        self._watermark = -math.inf

    def _remember(self, event_id: str, event_time: float) -> None:
        self._seen[event_id] = event_time
        heapq.heappush(self._seen_by_time, (event_time, event_id))
        horizon = self._watermark - self._max_span
        while self._seen_by_time and self._seen_by_time[0][0] <= horizon:
            _, old = heapq.heappop(self._seen_by_time)
            del self._seen[old]


def surge_subscriptions(path: Path | str | None) -> dict[str, Subscription]:
    """The rules of a rules file as the subscriptions that feed them events; none without a file."""
    return SurgeEvaluator.from_file(path).subscriptions() if path else {}
