"""Surge rules: count within a radius or a country over a sliding window, ratio against the
period before, firing exactly once per window with deterministic ids; the rules file and its
schema."""
import copy
import random

import pytest
import yaml
from pydantic import ValidationError

from newswatch.pipelines.alerting.surge import (
    DEFAULT_RULES_PATH,
    CountRule,
    RatioRule,
    SurgeEvaluator,
    event_time,
    firing_id,
    haversine_km,
    load_rules,
    parse_rules,
)
from newswatch.pipelines.alerting.throttle import Decision, Throttle, default_key
from newswatch.pipelines.nlp.resources import DataFileError

T0 = 1_800_000_000.0
MIN, HOUR = 60.0, 3600.0
KAFKA = [{"type": "kafka", "topic": "surges"}]
DEIR_EZ_ZOR = {"canonical": "Deir ez-Zor", "country": "SY", "lat": 35.34, "lon": 40.14}
MAYADIN = {"canonical": "Mayadin", "country": "SY", "lat": 35.02, "lon": 40.45}   # ~45 km away
RAQQA = {"canonical": "Raqqa", "country": "SY", "lat": 35.95, "lon": 39.01}       # ~120 km away
MOSUL = {"canonical": "Mosul", "country": "IQ", "lat": 36.34, "lon": 43.13}


def count_rule(**over) -> CountRule:
    fields = dict(id="dez", name="offensives near Deir ez-Zor", kind="count", types=["offensive"],
                  near={"lat": 35.34, "lon": 40.14}, radius_km=50, min_count=3, window_minutes=60,
                  channels=KAFKA, realert_s=600)
    fields.update(over)
    return CountRule(**fields)


def ratio_rule(**over) -> RatioRule:
    fields = dict(id="tb-sy", name="troop build-up in Syria doubled", kind="ratio", types=["troop_buildup"],
                  country="SY", period_hours=24, factor=2.0, min_count=4, channels=KAFKA, realert_s=86400)
    fields.update(over)
    return RatioRule(**fields)


_ids = iter(range(10**9))


def event(place=DEIR_EZ_ZOR, etype="offensive", eid=None, **extra) -> dict:
    return {"id": eid or f"art{next(_ids)}:0:{etype}", "type": etype, "subtype": "shelling",
            "confidence": 0.9, "locations": [place] if place else [], **extra}


def observe_all(evaluator, timed_events):
    return [f for e, t in timed_events for f in evaluator.observe(e, t)]


# --- geo ------------------------------------------------------------------------------------------

def test_haversine_gives_great_circle_kilometres():
    assert haversine_km(0, 0, 1, 0) == pytest.approx(111.195, abs=0.001)  # one degree of latitude
    assert haversine_km(51.5074, -0.1278, 48.8566, 2.3522) == pytest.approx(343.5, abs=1)  # London-Paris
    assert haversine_km(35.34, 40.14, 35.34, 40.14) == 0
    assert haversine_km(35.34, 40.14, 35.02, 40.45) == pytest.approx(haversine_km(35.02, 40.45, 35.34, 40.14))


def test_a_count_rule_counts_only_matching_types_within_its_radius():
    rule = count_rule()
    assert rule.matches(event(MAYADIN))
    assert not rule.matches(event(RAQQA))                       # outside 50 km
    assert not rule.matches(event(etype="ceasefire"))
    assert not rule.matches(event(place=None))
    assert not rule.matches(event({"canonical": "somewhere", "country": "SY"}))  # no coordinates
    assert count_rule(subtypes=["airstrike"]).matches(event()) is False
    assert count_rule(min_confidence=0.95).matches(event()) is False


# --- count rules ----------------------------------------------------------------------------------

def test_a_count_rule_fires_at_the_event_that_crosses_its_threshold_and_once_per_window():
    evaluator = SurgeEvaluator([count_rule(min_count=3, window_minutes=60)])
    assert evaluator.observe(event(), T0) == []
    assert evaluator.observe(event(RAQQA), T0 + 5 * MIN) == []  # outside the radius: not counted
    assert evaluator.observe(event(MAYADIN), T0 + 10 * MIN) == []
    crossing = event()
    [firing] = evaluator.observe(crossing, T0 + 20 * MIN)
    assert (firing.count, firing.event, firing.rule.id) == (3, crossing, "dez")
    assert (firing.window_start, firing.window_end) == (T0 + 20 * MIN - HOUR, T0 + 20 * MIN)
    assert firing.id == firing_id("dez", T0 + 20 * MIN - HOUR)
    assert len(firing.event_ids) == 3 and firing.event_ids[-1] == crossing["id"]
    # more events in the same window: no second firing
    assert observe_all(evaluator, [(event(), T0 + m * MIN) for m in (25, 40, 79)]) == []


def test_after_its_window_has_passed_a_count_rule_fires_again_for_a_new_burst():
    evaluator = SurgeEvaluator([count_rule(min_count=3, window_minutes=60)])
    first = observe_all(evaluator, [(event(), T0 + m * MIN) for m in (0, 1, 2)])
    quiet = observe_all(evaluator, [(event(), T0 + m * MIN) for m in (30, 61)])
    second = observe_all(evaluator, [(event(), T0 + m * MIN) for m in (62, 63)])
    assert len(first) == 1 and quiet == [] and len(second) == 1
    assert second[0].id != first[0].id
    # it fired at 62 min: the window (2 min, 62 min] holds the events at 30, 61 and 62, none of the first burst
    assert (second[0].count, second[0].window_end) == (3, T0 + 62 * MIN)


def test_a_count_window_slides_so_events_spread_wider_than_it_never_fire():
    evaluator = SurgeEvaluator([count_rule(min_count=3, window_minutes=60)])
    assert observe_all(evaluator, [(event(), T0 + m * 31 * MIN) for m in range(20)]) == []


def test_a_count_rule_over_a_country():
    evaluator = SurgeEvaluator([count_rule(id="iq", near=None, radius_km=None, country="IQ", min_count=2)])
    assert evaluator.observe(event(DEIR_EZ_ZOR), T0) == []
    assert evaluator.observe(event(MOSUL), T0 + 1) == []
    [firing] = evaluator.observe(event({"canonical": "Basra", "country": "IQ"}), T0 + 2)
    assert firing.summary()["country"] == "IQ"


def test_a_count_rule_needs_exactly_one_area():
    with pytest.raises(ValidationError, match="either near"):
        count_rule(country="SY")
    with pytest.raises(ValidationError, match="either near"):
        count_rule(near=None, radius_km=None)


# --- ratio rules ----------------------------------------------------------------------------------

def test_a_ratio_rule_fires_when_reports_doubled_against_the_previous_day():
    evaluator = SurgeEvaluator([ratio_rule(factor=2.0, min_count=4, period_hours=24)])
    buildup = lambda: event(etype="troop_buildup")  # noqa: E731
    yesterday = [(buildup(), T0 + h * HOUR) for h in (1, 2, 3)]    # 3 reports
    today = [(buildup(), T0 + h * HOUR) for h in (28, 29, 30, 31, 32)]  # 5 in the 24 h up to 32 h: not doubled
    assert observe_all(evaluator, yesterday + today) == []
    [firing] = evaluator.observe(buildup(), T0 + 33 * HOUR)  # 6 in (9 h, 33 h] against 3 in (-15 h, 9 h]
    assert (firing.count, firing.previous_count) == (6, 3)
    assert (firing.window_start, firing.window_end) == (T0 + 9 * HOUR, T0 + 33 * HOUR)
    assert firing.summary()["factor"] == 2.0
    assert evaluator.observe(buildup(), T0 + 34 * HOUR) == []  # once per period


def test_a_ratio_rule_from_nothing_needs_its_minimum_count():
    evaluator = SurgeEvaluator([ratio_rule(min_count=4)])
    fired = [evaluator.observe(event(etype="troop_buildup"), T0 + n * HOUR) for n in range(5)]
    assert [len(f) for f in fired] == [0, 0, 0, 1, 0]
    assert fired[3][0].previous_count == 0


def test_a_ratio_rule_counts_only_its_country():
    evaluator = SurgeEvaluator([ratio_rule(min_count=2)])
    assert observe_all(evaluator, [(event(MOSUL, etype="troop_buildup"), T0 + n) for n in range(10)]) == []


# --- determinism, restarts, memory ----------------------------------------------------------------

def _burst_stream(seed: int):
    rng = random.Random(seed)
    places = [DEIR_EZ_ZOR, MAYADIN, RAQQA, MOSUL]
    return [(event(rng.choice(places), etype=rng.choice(["offensive", "troop_buildup"])), T0 + rng.uniform(0, 3 * 86400))
            for _ in range(600)]


def _rules():
    return [count_rule(min_count=4, window_minutes=30), ratio_rule(min_count=3, period_hours=6)]


def test_firing_ids_are_deterministic_and_a_rebuild_in_any_order_reproduces_them():
    stream = sorted(_burst_stream(7), key=lambda pair: pair[1])
    live = [f.id for f in observe_all(SurgeEvaluator(_rules()), stream)]
    assert live and len(live) == len(set(live))
    assert [f.id for f in observe_all(SurgeEvaluator(_rules()), stream)] == live
    shuffled = stream[:]
    random.Random(1).shuffle(shuffled)
    assert [f.id for f in SurgeEvaluator(_rules()).rebuild(shuffled)] == live


def test_events_seen_by_rebuild_and_delivered_again_are_not_counted_twice():
    stream = [(event(), T0 + m * MIN) for m in range(3)]
    evaluator = SurgeEvaluator([count_rule(min_count=3)])
    [replayed] = evaluator.rebuild(stream)
    assert observe_all(evaluator, stream) == []   # the same events from Kafka after a restart
    assert evaluator.observe(event(), T0 + 4 * MIN) == []  # and the window is still fired
    assert replayed.id == firing_id("dez", T0 + 2 * MIN - HOUR)


def test_a_rebuild_over_rebuild_span_knows_a_window_already_fired():
    rule = count_rule(min_count=3, window_minutes=60)
    assert SurgeEvaluator([rule, ratio_rule(period_hours=24)]).rebuild_span_s == 3 * 24 * HOUR
    stream = [(event(), T0 + m * MIN) for m in (0, 1, 2, 30, 40)]  # fires at 2 min, then quiet until 62
    live = SurgeEvaluator([rule])
    [fired] = observe_all(live, stream)
    now = T0 + 61 * MIN  # the worker restarts
    # replaying only the last window would miss that it fired, and fire again under another id
    [again] = SurgeEvaluator([rule]).rebuild([(e, t) for e, t in stream if t > now - rule.window_s])
    assert again.id != fired.id
    restarted = SurgeEvaluator([rule])
    since = now - restarted.rebuild_span_s
    assert [f.id for f in restarted.rebuild([(e, t) for e, t in stream if t > since])] == [fired.id]
    late = event()
    assert restarted.observe(late, now + 30) == live.observe(late, now + 30) == []


def test_rebuild_forgets_the_previous_state():
    evaluator = SurgeEvaluator([count_rule(min_count=3)])
    observe_all(evaluator, [(event(), T0 + m) for m in range(2)])
    assert evaluator.rebuild([]) == [] and evaluator.held() == 0
    assert evaluator.observe(event(), T0 + 3) == []  # the two earlier events no longer count


def test_memory_is_bounded_by_the_largest_window_and_stale_events_are_ignored():
    evaluator = SurgeEvaluator([count_rule(min_count=10_000, window_minutes=10), ratio_rule(min_count=10_000,
                                                                                              period_hours=1)])
    for n in range(20_000):  # one event a second in the radius and the country, for 5.5 hours
        evaluator.observe(event(etype="offensive" if n % 2 else "troop_buildup"), T0 + n)
        assert evaluator.held() <= 10 * 60 // 2 + 2 * 3600 // 2 + 2
    assert len(evaluator._seen) <= 2 * 3600 + 1
    assert evaluator.observe(event(), T0) == []  # far older than the largest window: ignored
    assert evaluator.held() <= 10 * 60 // 2 + 2 * 3600 // 2 + 2


def test_each_evaluator_owns_its_rules():
    one, other = SurgeEvaluator([count_rule(min_count=1)]), SurgeEvaluator([count_rule(min_count=5)])
    assert len(one.observe(event(), T0)) == 1
    assert other.observe(event(), T0) == []
    with pytest.raises(ValueError, match="unique"):
        SurgeEvaluator([count_rule(), count_rule()])


def test_event_time_reads_published_at_then_ingested_at():
    assert event_time({"published_at": "2027-01-15T08:00:00Z"}) == T0
    assert event_time({"published_at": None, "ingested_at": "2027-01-15T10:00:00+02:00"}) == T0
    assert event_time({"published_at": "2027-01-15T08:00:00"}) == T0  # no zone: UTC
    assert event_time({"published_at": "yesterday"}) is None


# --- delivery: the firing as an alert, through the same throttle -----------------------------------

def test_a_firing_becomes_a_surge_alert_throttled_per_rule():
    rule = count_rule(min_count=1, window_minutes=1, realert_s=3600, digest=True)
    evaluator = SurgeEvaluator([rule])
    subscription = evaluator.subscriptions()["surge-dez"]
    assert subscription.channels[0].topic == "surges" and subscription.realert_s == 3600
    first = evaluator.observe(event(), T0)[0].to_alert("2027-01-15T08:00:00Z")
    second = evaluator.observe(event(MAYADIN), T0 + 120)[0].to_alert("2027-01-15T08:02:00Z")
    assert (first.kind, first.subscription_id, first.owner) == ("surge", "surge-dez", "surge-rules")
    assert first.event["surge"]["rule_id"] == "dez" and first.event["surge"]["radius_km"] == 50
    assert default_key(first) == default_key(second)  # other place, same rule: one key
    throttle = Throttle()
    assert throttle.decide(first, subscription, T0) is Decision.SEND_NOW
    assert throttle.decide(second, subscription, T0 + 120) is Decision.FOLD


# --- the rules file -------------------------------------------------------------------------------

def test_the_bundled_rules_file_is_valid_and_builds_an_evaluator():
    rules = load_rules()
    assert {r.kind for r in rules} == {"count", "ratio"}
    assert SurgeEvaluator.from_file().rules == tuple(rules)


def test_another_rules_file_builds_another_evaluator(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "rules": [
        {"id": "one", "name": "any offensive in Iraq", "kind": "count", "types": ["offensive"], "country": "IQ",
         "min_count": 1, "window_minutes": 5, "channels": KAFKA, "realert_s": 0}]}))
    evaluator = SurgeEvaluator.from_file(path)
    assert [r.id for r in evaluator.rules] == ["one"]
    assert len(evaluator.observe(event(MOSUL), T0)) == 1


def _bundled() -> dict:
    return yaml.safe_load(DEFAULT_RULES_PATH.read_text(encoding="utf-8"))


@pytest.mark.parametrize("breaker, message", [
    (lambda d: d["rules"][0].update(country="SY"), "either near .* or country, not both"),
    (lambda d: d["rules"][0].pop("radius_km"), "'radius_km' is a dependency of 'near'"),
    (lambda d: d["rules"][0].update(kind="median"), "rules/0/kind: 'median' is not one of"),
    (lambda d: d["rules"][0].update(types=["riot"]), "rules/0/types/0"),
    (lambda d: d["rules"][0]["near"].update(lat=123), "rules/0/near/lat"),
    (lambda d: d["rules"][0].pop("realert_s"), "'realert_s' is a required property"),
    (lambda d: d["rules"][0]["channels"].append({"type": "webhook"}), "'url' is a required property"),
    (lambda d: d["rules"][-1].update(factor=0.5), "factor: 0.5 is less than or equal to the minimum of 1"),
    (lambda d: d["rules"][-1].update(country="sy"), "does not match"),
    (lambda d: d["rules"][1].update(id=d["rules"][0]["id"]), "two rules with id"),
])
def test_the_schema_rejects_broken_rules_saying_where_and_how_to_fix(breaker, message):
    data = copy.deepcopy(_bundled())
    breaker(data)
    with pytest.raises(DataFileError, match=message) as err:
        parse_rules(data, source="rules.yaml")
    assert "rules.yaml" in str(err.value)


def test_a_missing_or_unparsable_rules_file_says_what_to_do(tmp_path):
    with pytest.raises(DataFileError, match="is missing: create it"):
        load_rules(tmp_path / "absent.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules: [\n")
    with pytest.raises(DataFileError, match="bad.yaml is not valid YAML .*; fix its syntax"):
        load_rules(bad)
