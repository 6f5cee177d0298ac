"""Measurements on ../shared (research-only data): run when it is there, skipped otherwise.
They check the seed article against its gold annotation; the dev-set scores are reported by
`newswatch eval` (README), not asserted, since they are targets for a held-out set."""
import json

from newswatch.pipelines.nlp.normalize import normalize
from newswatch.pipelines.nlp.tagging import tag


def _seed(shared_dir):
    text = (shared_dir / "samples" / "seed_article_ar.txt").read_text(encoding="utf-8")
    gold = json.loads((shared_dir / "samples" / "seed_article_ar.gold.json").read_text(encoding="utf-8"))
    return text, gold


def test_seed_sentence_labels_match_gold(shared_dir):
    text, gold = _seed(shared_dir)
    result = tag(text)
    got = {str(s["index"]): sorted(s["labels"]) for s in result.sentences}
    assert got == {k: sorted(v) for k, v in gold["sentence_labels"].items()}


def test_seed_every_gold_event_type_found_in_its_sentence(shared_dir):
    text, gold = _seed(shared_dir)
    found = {(e.sentence, e.type) for e in tag(text).events}
    missing = [(g["sentence"], g["type"]) for g in gold["events"] if (g["sentence"], g["type"]) not in found]
    assert missing == []


def test_seed_artefacts_repaired(shared_dir):
    text, gold = _seed(shared_dir)
    display = normalize(text).display
    for fix in gold["normalization"]:
        if "expected" in fix:
            assert fix["raw"] not in display
            assert display.count(fix["expected"]) >= fix["count"]
