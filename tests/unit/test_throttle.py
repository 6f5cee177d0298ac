"""Throttle and digest: the first alert of a key goes at once, repeats fold into one digest due
when the window closes, and a restart rebuilt from the recorded decisions changes nothing."""
import pytest

from newswatch.pipelines.alerting.throttle import DIGEST_SENT, Decision, Digest, Throttle, default_key
from newswatch.pipelines.model import digest_id
from newswatch.pipelines.model import Alert, Subscription

T0 = 1_800_000_000.0  # any epoch second: time is always passed in


def subscription(sid="sub1", realert_s=600, digest=True) -> Subscription:
    return Subscription(id=sid, owner="ana", name="battles", realert_s=realert_s, digest=digest)


def alert(n, sid="sub1", etype="offensive", place="Aleppo", country="SY", kind="event") -> Alert:
    locations = [{"canonical": place, "country": country, "lat": 36.2, "lon": 37.16}] if place or country else []
    if locations and not place:
        del locations[0]["canonical"]
    return Alert(id=f"a{n}", kind=kind, subscription_id=sid, owner="ana", subscription_name="battles",
                 event_id=f"e{n}", event={"type": etype, "subtype": "shelling", "locations": locations},
                 matched_at="2027-01-15T08:00:00Z")


def test_first_alert_goes_at_once_and_repeats_fold_into_one_digest_due_when_the_window_closes():
    throttle, sub = Throttle(), subscription(realert_s=600)
    assert throttle.decide(alert(1), sub, T0) is Decision.SEND_NOW
    assert [throttle.decide(alert(n), sub, T0 + 10 * n) for n in (2, 3, 4)] == [Decision.FOLD] * 3
    assert throttle.due_digests(T0 + 599) == []  # window still open
    [digest] = throttle.due_digests(T0 + 600)
    assert digest.alert_ids == ("a2", "a3", "a4")
    assert (digest.window_start, digest.due_at, digest.subscription_id) == (T0, T0 + 600, "sub1")
    assert digest.key == ("sub1", "offensive", "Aleppo")
    assert digest.id == digest_id(["a4", "a2", "a3"])  # a hash of its alert ids, in any order
    assert throttle.due_digests(T0 + 601) == []  # handed out once


def test_a_repeat_with_digest_off_is_suppressed_and_nothing_is_due():
    throttle, sub = Throttle(), subscription(digest=False)
    assert throttle.decide(alert(1), sub, T0) is Decision.SEND_NOW
    assert throttle.decide(alert(2), sub, T0 + 5) is Decision.SUPPRESS
    assert throttle.due_digests(T0 + 10_000) == []


def test_after_the_window_the_next_alert_goes_at_once_and_opens_a_new_window():
    throttle, sub = Throttle(), subscription(realert_s=60)
    assert throttle.decide(alert(1), sub, T0) is Decision.SEND_NOW
    assert throttle.decide(alert(2), sub, T0 + 59.9) is Decision.FOLD
    assert throttle.decide(alert(3), sub, T0 + 60) is Decision.SEND_NOW
    assert throttle.decide(alert(4), sub, T0 + 100) is Decision.FOLD
    # the first window's digest is not lost although due_digests was not called before it closed
    digests = throttle.due_digests(T0 + 120)
    assert [d.alert_ids for d in digests] == [("a2",), ("a4",)]
    assert [d.due_at for d in digests] == [T0 + 60, T0 + 120]


def test_keys_are_subscription_type_and_place_each_with_its_own_window():
    throttle = Throttle()
    sub1, sub2 = subscription("sub1"), subscription("sub2")
    assert throttle.decide(alert(1), sub1, T0) is Decision.SEND_NOW
    assert throttle.decide(alert(2, place="Homs"), sub1, T0 + 1) is Decision.SEND_NOW
    assert throttle.decide(alert(3, etype="ceasefire"), sub1, T0 + 2) is Decision.SEND_NOW
    assert throttle.decide(alert(4, sid="sub2"), sub2, T0 + 3) is Decision.SEND_NOW
    assert throttle.decide(alert(5), sub1, T0 + 4) is Decision.FOLD
    assert len(throttle) == 4


def test_the_default_key_falls_back_to_the_country_then_to_a_dash():
    assert default_key(alert(1, place=None, country="IQ")) == ("sub1", "offensive", "IQ")
    assert default_key(alert(1, place=None, country=None)) == ("sub1", "offensive", "-")
    # a surge alert is keyed by its rule (its subscription) alone, whatever its places
    assert default_key(alert(1, kind="surge", place="Homs")) == ("sub1", "surge", "-")


def test_realert_zero_sends_everything_and_holds_nothing():
    throttle, sub = Throttle(), subscription(realert_s=0)
    assert [throttle.decide(alert(n), sub, T0) for n in range(3)] == [Decision.SEND_NOW] * 3
    assert len(throttle) == 0


def test_deciding_the_same_alert_again_returns_the_same_decision_and_folds_it_once():
    throttle, sub = Throttle(), subscription()
    assert throttle.decide(alert(1), sub, T0) is Decision.SEND_NOW
    assert throttle.decide(alert(1), sub, T0 + 1) is Decision.SEND_NOW
    assert throttle.decide(alert(2), sub, T0 + 2) is Decision.FOLD
    assert throttle.decide(alert(2), sub, T0 + 3) is Decision.FOLD
    [digest] = throttle.due_digests(T0 + 600)
    assert digest.alert_ids == ("a2",)


def test_closed_windows_are_forgotten_so_memory_stays_bounded():
    throttle, sub = Throttle(), subscription(realert_s=60)
    for n in range(5_000):  # a new place every second: at most the last minute's keys are held
        now = T0 + n
        throttle.decide(alert(n, place=f"place-{n}"), sub, now)
        throttle.due_digests(now)
        assert len(throttle) <= 61
    throttle.due_digests(T0 + 10_000)
    assert len(throttle) == 0


def test_an_alert_of_another_subscription_is_refused():
    with pytest.raises(ValueError, match="belongs to subscription 'sub1'"):
        Throttle().decide(alert(1), subscription("sub2"), T0)


def _run(throttle, sub, alerts_at):
    """Decide each (alert, time); return the records a worker would have written."""
    return [(a, throttle.decide(a, sub, t).value, t) for a, t in alerts_at]


def test_restore_after_a_restart_neither_resends_nor_loses_the_pending_digest():
    sub = subscription(realert_s=600)
    before = Throttle()
    records = _run(before, sub, [(alert(1), T0), (alert(2), T0 + 30), (alert(3), T0 + 90)])
    # the worker restarts; its records come back in any order
    restored = Throttle.restore(reversed(records), {"sub1": sub})
    assert restored.decide(alert(4), sub, T0 + 100) is Decision.FOLD  # not sent again
    assert restored.decide(alert(2), sub, T0 + 110) is Decision.FOLD  # a redelivery changes nothing
    before.decide(alert(4), sub, T0 + 100)
    [digest] = restored.due_digests(T0 + 600)
    assert digest.alert_ids == ("a2", "a3", "a4")
    assert digest == before.due_digests(T0 + 600)[0]  # same id: a re-sent digest is deduplicated


def test_restore_yields_a_digest_whose_window_closed_while_the_worker_was_down():
    sub = subscription(realert_s=60)
    records = _run(Throttle(), sub, [(alert(1), T0), (alert(2), T0 + 10)])
    restored = Throttle.restore(records, {"sub1": sub})
    [digest] = restored.due_digests(T0 + 3600)
    assert isinstance(digest, Digest) and digest.alert_ids == ("a2",)


def test_restore_does_not_repeat_a_digest_already_sent():
    sub = subscription(realert_s=60)
    records = [(alert(1), "send_now", T0), (alert(2), DIGEST_SENT, T0 + 10), (alert(3), DIGEST_SENT, T0 + 20)]
    restored = Throttle.restore(records, {"sub1": sub})
    assert restored.decide(alert(3), sub, T0 + 30) is Decision.FOLD  # known, and not folded again
    assert restored.due_digests(T0 + 3600) == []


def test_restore_skips_deleted_subscriptions_and_names_an_unknown_status():
    records = [(alert(1), "send_now", T0), (alert(2), "fold", T0 + 1)]
    assert Throttle.restore(records, {}).due_digests(T0 + 3600) == []
    with pytest.raises(ValueError, match="throttle status 'delivered'.*expected one of send_now"):
        Throttle.restore([(alert(1), "delivered", T0)], {"sub1": subscription()})


def test_a_fold_whose_opening_alert_is_not_in_the_records_still_yields_its_digest():
    sub = subscription(realert_s=60)
    restored = Throttle.restore([(alert(2), "fold", T0 + 10)], {"sub1": sub})
    [digest] = restored.due_digests(T0 + 70)
    assert digest.alert_ids == ("a2",)
