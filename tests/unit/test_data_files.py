"""Every data file matches its schema, and the schemas reject broken files."""
import copy

import pytest

from newswatch.pipelines.alerting.surge import load_rules
from newswatch.pipelines.nlp.resources import DataFileError, data_stems, load_data, validate

EXPECTED = {"actors", "affixes", "context", "modality", "places", "roles", "splitter", "surge_rules", "triggers", "units"}
# not a lexicon: loaded by pipelines/alerting/surge.py against schemas/surge_rules.schema.json
NOT_LEXICONS = {"surge_rules"}


def test_every_data_file_is_known_and_valid():
    assert set(data_stems()) == EXPECTED
    for stem in sorted(EXPECTED - NOT_LEXICONS):
        load_data(stem)  # validates
    assert load_rules()  # validates


def test_trigger_ids_are_unique():
    ids = [t["id"] for t in load_data("triggers")["triggers"]]
    assert len(ids) == len(set(ids))


def test_triggers_cover_every_type_in_both_languages():
    rows = load_data("triggers")["triggers"]
    covered = {(t["lang"], t["type"]) for t in rows}
    assert covered == {(l, t) for l in ("ar", "en") for t in ("offensive", "ceasefire", "troop_buildup")}


@pytest.mark.parametrize("stem, breaker", [
    ("triggers", lambda d: d["triggers"][0].update(type="riot")),
    ("triggers", lambda d: d["triggers"][0].update(pattern="a||b")),
    ("places", lambda d: d["places"][0].update(lat=123)),
    ("actors", lambda d: d["actors"][0].update(kind="alien")),
    ("splitter", lambda d: d.pop("number_heads")),
])
def test_schema_rejects_broken_files(stem, breaker):
    data = copy.deepcopy(load_data(stem))
    breaker(data)
    with pytest.raises(DataFileError, match=f"{stem}.yaml is invalid"):
        validate(stem, data)


def test_places_have_arabic_or_english_names():
    for row in load_data("places")["places"]:
        assert row.get("ar") or row.get("en"), row["canonical"]


def test_frames_name_only_known_frames_and_their_words_exist():
    context = load_data("context")
    for key in ("armed_targets", "peaceful_takeover", "target_stops", "locatives", "security_forces", "generic_heads",
                "strikes_on", "disarmament"):  # passive_aux may be empty (Arabic marks the passive in the verb)
        assert context[key]["ar"] and context[key]["en"], key
    framed = [t for t in load_data("triggers")["triggers"] if t.get("frame")]
    assert {f for t in framed for f in t["frame"]} == {"armed_target", "takes_ground", "forces", "towards",
                                                        "hit_as_target", "practice", "not_disarmament"}
    broken = copy.deepcopy(load_data("triggers"))
    broken["triggers"][0]["frame"] = ["anything"]
    with pytest.raises(DataFileError, match="triggers.yaml is invalid"):
        validate("triggers", broken)


def test_modality_factual_and_background_when_are_present():
    modality = load_data("modality")
    assert modality["made_factual_by"]["able"]
    assert "when" in modality["background_when"] and "عندما" in modality["background_when"]

