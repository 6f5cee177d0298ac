"""The learned arbiter: its data and weights files, deterministic training, explanations, and
decisions on sentences of our own."""
import hashlib
import json

import pytest

from newswatch.pipelines.nlp.arbiter import (DEFAULT_TRAIN, DEFAULT_WEIGHTS, TOP_FEATURES, Arbiter,
                                             ArbiterError, load_training, train)
from newswatch.pipelines.nlp.tagging import tag


@pytest.fixture(scope="module")
def arbiter():
    return Arbiter()


def _write_lines(path, items):
    path.write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items), encoding="utf-8")


def test_training_sentences_are_valid_and_cover_both_languages_and_every_type():
    items = load_training()
    assert len(items) >= 300
    assert {i["lang"] for i in items} == {"ar", "en"}
    labels = {label for i in items for label in i["labels"]}
    assert labels == {"offensive", "ceasefire", "troop_buildup"}
    assert sum(not i["labels"] for i in items) >= 100  # hard negatives


@pytest.mark.parametrize("breaker, message", [
    (lambda i: i.update(labels=["riot"]), "is invalid at labels/0"),
    (lambda i: i.update(lang="fr"), "is invalid at lang"),
    (lambda i: i.pop("text"), "is invalid at (top level)"),
])
def test_schema_rejects_broken_training_lines(tmp_path, breaker, message):
    item = dict(load_training()[0])
    breaker(item)
    path = tmp_path / "train.jsonl"
    _write_lines(path, [item])
    with pytest.raises(ArbiterError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_training(path)


def test_duplicate_ids_are_rejected(tmp_path):
    item = load_training()[0]
    path = tmp_path / "train.jsonl"
    _write_lines(path, [item, item])
    with pytest.raises(ArbiterError, match="used twice"):
        load_training(path)


def test_shipped_weights_were_trained_on_the_shipped_sentences(arbiter):
    """Editing train.jsonl without retraining leaves stale weights: this says so."""
    assert arbiter.data_sha256 == hashlib.sha256(DEFAULT_TRAIN.read_bytes()).hexdigest(), \
        "run `python -m newswatch.pipelines.nlp.arbiter train` after editing train.jsonl"


def test_missing_or_broken_weights_say_how_to_rebuild_them(tmp_path):
    with pytest.raises(ArbiterError, match="arbiter train"):
        Arbiter(tmp_path / "absent.json")
    broken = tmp_path / "weights.json"
    broken.write_text("{", encoding="utf-8")
    with pytest.raises(ArbiterError, match="arbiter train"):
        Arbiter(broken)


def test_training_is_deterministic(tmp_path):
    items = load_training()
    subset = [i for i in items if i["id"].endswith(("1", "4", "7"))]
    data = tmp_path / "train.jsonl"
    _write_lines(data, subset)
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    doc = train(data, first)
    train(data, second)
    assert first.read_bytes() == second.read_bytes()
    assert 0 < doc["kept_examples"] < doc["examples"]


def test_an_arbiter_uses_the_weights_file_it_is_given(tmp_path):
    doc = json.loads(DEFAULT_WEIGHTS.read_text(encoding="utf-8"))
    doc["weights"] = {"type=offensive": -20.0}
    doc["bias"] = 1.0
    path = tmp_path / "weights.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    result = tag("Government warplanes struck rebel positions and the two sides later agreed a truce.", "en")
    assert {"offensive", "ceasefire"} <= result.labels
    kept, decisions = Arbiter(path).arbitrate(result)
    assert kept.labels == result.labels - {"offensive"}
    assert [d.keep for d in decisions] == [e.type != "offensive" for e in result.events]


def test_each_decision_names_the_features_that_drove_it(arbiter):
    result = tag("Rebels stormed an army checkpoint on the southern road and killed four soldiers.", "en")
    assert result.events
    for event in result.events:
        decision = arbiter.decide(result, event)
        top = decision.top_features
        assert 0 < len(top) <= TOP_FEATURES
        assert all(arbiter.weights[name] == pytest.approx(value, abs=1e-4) for name, value in top.items())
        sizes = [abs(v) for v in top.values()]
        assert sizes == sorted(sizes, reverse=True)
        as_json = decision.as_dict()
        assert json.loads(json.dumps(as_json)) == as_json


@pytest.mark.parametrize("text, lang, kind, keep", [
    ("Government warplanes struck rebel positions outside the town overnight, the army said.", "en", "offensive", True),
    ("The army sent reinforcements to the front line north of the city on Thursday.", "en", "troop_buildup", True),
    # police mobilised at home, and volunteers with no forces in the clause, are left out by the rules
    # themselves (security_forces, the forces frame); volunteers that an army mobilises are not
    ("The army mobilised hundreds of volunteers to clean the streets after the flood.", "en", "troop_buildup", False),
    ("The militia has kept control of the crossing for two years.", "en", "offensive", False),
    ("شنت طائرات حربية غارات على مواقع المسلحين في ريف المدينة الشمالي فجر اليوم.", "ar", "offensive", True),
    # (a battle dated to 1973 is now refused by the rules themselves: modality.yaml historic_years)
    ("أقيمت مراسم تأبين للجنود الذين قتلوا في معركة الكرامة قبل عقود.", "ar", "offensive", False),
])
def test_our_sentences_are_decided_as_labelled(arbiter, text, lang, kind, keep):
    result = tag(text, lang)
    events = [e for e in result.events if e.type == kind]
    assert events, "the rules must propose the event for the arbiter to judge it"
    assert [arbiter.decide(result, e).keep for e in events] == [keep] * len(events)
