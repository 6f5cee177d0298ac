"""Event arguments by role (issue 11, item 6): which actors and places belong to which trigger,
countries for every event, places the gazetteer lacks, and the argument scorer. Our own sentences."""
import copy
import json

import pytest

from newswatch.pipelines.nlp.evaluate import EvalInputError
from newswatch.pipelines.nlp.evaluate_args import load_gold, match_events, score_arguments
from newswatch.pipelines.nlp.resources import DataFileError, load_data, validate
from newswatch.pipelines.nlp.tagging import tag


def events(text: str, lang: str | None = None):
    return tag(text, lang).events


def actors(event) -> set[str]:
    return {a.canonical for a in event.actors}


def places(event) -> dict[str, str | None]:
    return {p.canonical: p.kind for p in event.locations}


def countries(event) -> set[str]:
    return {p.country for p in event.locations if p.country}


# --- names belong to their trigger's clause --------------------------------------------------

def test_each_trigger_takes_the_names_of_its_own_clause():
    text = ("أعلنت سوريا حالة التأهب, وفي الوقت نفسه تحركت قوات الحشد الشعبي باتجاه الحدود السورية, "
            "وأعلن رئيس الوزراء العراقي أن الجيش شن ضربات جوية على قوات داعش.")
    alert, move, strike = events(text, "ar")
    assert actors(alert) == {"Syria"}
    assert actors(move) == {"Popular Mobilization Forces"} and "Syria" in places(move)
    assert actors(strike) == {"Iraqi Army", "Islamic State"}  # "the army" of the Iraqi prime minister


def test_began_opens_a_main_clause_in_a_run_on_arabic_sentence():
    # no punctuation between the truce and the advance: "بدأ" starts the clause of the advance
    text = "وقعت فصائل المعارضة المسلحة الهدنة في ثلاث مناطق بدأ الجيش السوري التقدم نحو تدمر."
    truce, advance = events(text, "ar")
    assert actors(truce) == {"Syrian armed opposition"}
    assert actors(advance) == {"Syrian Army"} and "Palmyra" in places(advance)


def test_began_after_its_subject_or_without_one_opens_no_clause():
    # the subject before the verb, and reinforcements that "began" to deploy somewhere
    (operation,) = events("قوات سوريا الديمقراطية بدأت عملية عسكرية لطرد داعش من الرقة", "ar")
    assert "Syrian Kurdish forces" in actors(operation)
    (move,) = events("دفع الجيش التركي بتعزيزات عسكرية بدأت بالانتشار في ولاية هاتاي", "ar")
    assert "هاتاي" in places(move) or "Hatay" in places(move)


def test_in_return_is_no_place_relation():
    # "بالمقابل" (in return) starts the other side's act: its town is not where the first strike fell
    strike = events("قصفت القوات التركية مواقع في عفرين، بالمقابل استهدفت الوحدات الكردية بلدة كلس التركية", "ar")[0]
    assert "Afrin" in places(strike) and "Kilis" not in places(strike)


@pytest.mark.parametrize("text, lang, expected", [
    ("شن الجيش هجوما على بلدة الباب، القريبة من مدينة منبج.", "ar", {"Al-Bab", "Manbij"}),
    ("Israeli jets struck Rafah, bordering the Egyptian town of Arish.", "en", {"Rafah", "Arish"}),
])
def test_a_place_described_by_where_it_lies_after_a_comma_is_the_events_place(text, lang, expected):
    (attack,) = events(text, lang)
    assert set(places(attack)) == expected


def test_a_clause_without_a_subject_takes_the_agent_of_the_clause_before_it():
    text = "تحركت قوات الحشد الشعبي نحو الحدود, وسيطرت على عدد من القرى."
    capture = next(e for e in events(text, "ar") if e.type == "offensive")
    assert actors(capture) == {"Popular Mobilization Forces"}


def test_a_relative_clause_is_about_the_name_before_it():
    text = ("The United States, which had long called for extending the truce with the rebels, "
            "showed no enthusiasm for the deal that Russia, Turkey and Iran sponsor.")
    truce = next(e for e in events(text, "en") if e.trigger["text"].lower() == "truce")
    assert "United States" in actors(truce)
    assert not actors(truce) & {"Russia", "Turkey", "Iran"}


def test_a_country_written_as_an_adjective_is_neither_actor_nor_place_except_at_a_border():
    (event,) = [e for e in events("حشدت القوات الكردية السورية مقاتلين قرب الحدود التركية", "ar")
                if e.type == "troop_buildup"]
    assert actors(event) == {"Syrian Kurdish forces"}
    assert "Syria" not in places(event) and "Turkey" in places(event)  # "the Turkish border" is ground


def test_a_word_with_an_article_the_name_never_takes_is_another_word():
    for event in events("قاتل المسلحون بالحماس والعزيمة في اشتباكات عنيفة مع الجيش", "ar"):
        assert "Hamas" not in actors(event)  # "الحماس" is enthusiasm


def test_forces_named_by_nationality_are_that_countrys_forces():
    (event,) = events("قصفت طائرات حربية روسية مواقع المعارضة في ريف إدلب", "ar")
    assert "Russian Armed Forces" in actors(event)
    (event,) = events("Turkish drones struck PKK targets in northern Iraq.", "en")
    assert {"Turkish Armed Forces", "PKK"} <= actors(event)


def test_a_generic_rebel_name_after_another_armed_name_is_part_of_it():
    (event,) = events("M23 rebels seized the mining town of Rubaya on Tuesday.", "en")
    assert actors(event) == {"M23"}


# --- countries and places the gazetteer lacks ----------------------------------------------------

def test_a_village_the_gazetteer_lacks_is_reported_as_written_with_its_country():
    (event,) = events("قصفت قوات النظام قرية الشيخ دامس بالمدفعية الثقيلة", "ar")
    village = next(p for p in event.locations if p.kind == "place")
    assert village.canonical == "الشيخ دامس" and village.country == "SY" and village.lat is None
    (event,) = events("Ukrainian troops recaptured the village of Robotyne in the Zaporizhzhia region.", "en")
    assert places(event)["Robotyne"] == "place" and countries(event) == {"UA"}


def test_an_event_without_a_named_place_gets_the_country_of_a_force_that_fights_at_home():
    (event,) = events("Houthi fighters attacked army positions overnight.", "en")
    (location,) = event.locations
    assert location.kind == "inferred_country" and location.country == "YE" and location.lat is None
    assert "Houthi" in location.text  # the name it was read from


def test_the_article_context_gives_the_country_when_the_sentence_names_none():
    text = "Tension has risen in Idlib province over the past week. Gunmen ambushed an army patrol on Monday."
    ambush = next(e for e in events(text, "en") if e.type == "offensive")
    assert countries(ambush) == {"SY"}
    assert "Syrian Army" in actors(ambush)  # "the army" of the country the event happens in


def test_a_nationality_after_a_place_says_which_country_it_is_in():
    (event,) = events("عززت القوات المصرية انتشارها العسكري في مدينة رفح المصرية", "ar")
    assert countries(event) == {"EG"}


def test_an_everyday_word_that_names_a_city_needs_a_place_cue():
    text = "قال المتحدث إن القوات طالبت دوما بوقف القصف على المدينة"
    assert all("Douma" not in places(e) for e in events(text, "ar"))  # "دوما": always
    (event,) = [e for e in events("قصفت قوات النظام مواقع المعارضة في دوما", "ar")]
    assert "Douma" in places(event)


def test_a_head_word_is_no_place():
    (event,) = events("أعلن التحالف اعتراض صاروخ أطلقه الحوثيون باتجاه مدينة جازان", "ar")
    assert "Madinah" not in places(event)


# --- build-ups: forces for a fight, moving towards somewhere ------------------------------------

@pytest.mark.parametrize("text", [
    "عززت الشرطة انتشارها في العاصمة بعد تهديد إرهابي",       # security at home
    "نشرت السلطات آلاف الشرطيين لتأمين المباراة",              # police for a match
    "رفعت الشركة الجاهزية القصوى لمحطات الكهرباء قبل الصيف",    # a power grid's readiness
    "تعمل الحكومة على تعزيز وجود الطاقة الشمسية في المنطقة",     # "reinforcing the presence" of energy
    "يتهم التقرير الجماعة بانتهاكات كتجنيد الأطفال",              # an example, not a report
])
def test_no_build_up_without_forces_for_a_fight(text):
    assert all(e.type != "troop_buildup" for e in events(text, "ar"))


def test_a_sending_verb_with_forces_moving_towards_somewhere_is_a_build_up():
    text = "وترسل تركيا الراعية للاتفاق منذ أسابيع، قوات عسكرية وآليات إلى نقاط المراقبة في إدلب"
    (event,) = [e for e in events(text, "ar") if e.type == "troop_buildup"]
    assert actors(event) == {"Turkey"} and "Idlib" in places(event)
    assert all(e.type != "troop_buildup" for e in events("نقلت إذاعة الجيش عن مصادر أمنية نفي الاتفاق", "ar"))


def test_a_proposal_to_deploy_is_no_build_up():
    assert all(e.type != "troop_buildup" for e in events("The minister proposed to deploy troops to the border.", "en"))


# --- the scorer ------------------------------------------------------------------------------------

GOLD_LINE = {"id": "t1", "lang": "en", "text": "Russian forces shelled the village of Petrivka near Kharkiv.",
             "events": [{"type": "offensive", "trigger": "shelled", "actors": ["Russian Armed Forces"],
                         "places": ["Petrivka", "Kharkiv"], "countries": ["UA"]}]}


def test_scorer_matches_by_trigger_span_and_scores_each_argument_kind(tmp_path):
    path = tmp_path / "gold.jsonl"
    path.write_text(json.dumps(GOLD_LINE) + "\n", encoding="utf-8")
    predicted = [{"type": "offensive", "trigger": {"start": 15, "end": 22, "text": "shelled"},
                  "actors": [{"canonical": "Russian Armed Forces"}, {"canonical": "Russia"}],
                  "locations": [{"canonical": "Petrivka", "text": "Petrivka", "kind": "place", "country": "UA"},
                                {"canonical": "Ukraine", "text": "Russian", "kind": "inferred_country", "country": "UA"}]},
                 {"type": "ceasefire", "trigger": {"start": 0, "end": 7, "text": "Russian"}, "actors": [], "locations": []}]
    score = score_arguments(load_gold(path), lambda doc: predicted).as_dict()
    assert score["events"] == {"gold": 1, "predicted": 2, "matched": 1, "recall": 1.0, "precision": 0.5}
    assert (score["actors"]["precision"], score["actors"]["recall"]) == (0.5, 1.0)
    assert (score["places"]["precision"], score["places"]["recall"]) == (1.0, 0.5)  # inferred is no named place
    assert (score["countries"]["precision"], score["countries"]["recall"]) == (1.0, 1.0)


def test_scorer_reads_a_seed_style_document_and_places_triggers_in_their_sentence(tmp_path):
    (tmp_path / "a.txt").write_text("Troops shelled the town. Later troops shelled the town again.", encoding="utf-8")
    (tmp_path / "a.gold.json").write_text(json.dumps({"file": "a.txt", "events": [
        {"sentence": 1, "type": "offensive", "trigger": "shelled", "actors": [], "locations": []}]}), encoding="utf-8")
    (doc,) = load_gold(tmp_path / "a.gold.json")
    assert doc.text[doc.events[0].start:].startswith("shelled the town again")
    late = {"type": "offensive", "trigger": {"start": doc.events[0].start, "end": doc.events[0].end}}
    early = {"type": "offensive", "trigger": {"start": 7, "end": 14}}
    assert match_events(doc.events, [early, late]) == [(doc.events[0], late)]


def test_scorer_says_which_trigger_is_not_in_the_text(tmp_path):
    line = dict(GOLD_LINE, events=[dict(GOLD_LINE["events"][0], trigger="bombed")])
    path = tmp_path / "gold.jsonl"
    path.write_text(json.dumps(line) + "\n", encoding="utf-8")
    with pytest.raises(EvalInputError, match="'bombed' is not in the text"):
        load_gold(path)


def test_our_gold_file_is_well_formed():
    docs = load_gold("tests/data/args.gold.jsonl")
    assert len(docs) >= 60 and {d.lang for d in docs} == {"ar", "en"}
    assert sum(len(d.events) for d in docs) >= 60


# --- the data file -----------------------------------------------------------------------------------

@pytest.mark.parametrize("breaker", [
    lambda d: d.pop("clause_breaks"),
    lambda d: d["place_heads"].update(ar_strong=[]),
    lambda d: d["max_zipf"].update(strong="high"),
])
def test_roles_schema_rejects_broken_files(breaker):
    data = copy.deepcopy(load_data("roles"))
    breaker(data)
    with pytest.raises(DataFileError, match="roles.yaml is invalid"):
        validate("roles", data)
