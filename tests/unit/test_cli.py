import json
from pathlib import Path

import jsonschema
import pytest

from newswatch.pipelines.cli import main
from newswatch.pipelines.nlp.resources import SCHEMA_DIR

ARTICLE = "أرسل الجيش تعزيزات إلى الحدود. وقصفت المدفعية مواقع المسلحين قرب الرقة."


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_normalize_display_and_match(tmp_path, capsys):
    f = tmp_path / "a.txt"
    f.write_text("زار الوفد الولاياتالمتحدة إلى", encoding="utf-8")
    assert run(capsys, "normalize", str(f))[1].strip() == "زار الوفد الولايات المتحدة إلى"
    assert run(capsys, "normalize", str(f), "--match")[1].strip() == "زار الوفد الولايات المتحده الي"


def test_tag_json_matches_the_schema(tmp_path, capsys):
    f = tmp_path / "a.txt"
    f.write_text(ARTICLE, encoding="utf-8")
    code, out, _ = run(capsys, "tag", str(f), "--json")
    result = json.loads(out)
    jsonschema.validate(result, json.loads((SCHEMA_DIR / "tag_result.schema.json").read_text()))
    assert code == 0 and result["language"] == "ar"
    assert [p["language"] for p in result["paragraphs"]] == ["ar"]
    assert set(result["labels"]) == {"troop_buildup", "offensive"}


def test_tag_text_output(tmp_path, capsys):
    f = tmp_path / "a.txt"
    f.write_text(ARTICLE, encoding="utf-8")
    code, out, _ = run(capsys, "tag", str(f))
    assert code == 0 and "troop_buildup/reinforcement" in out and "offensive/shelling" in out


def _eval_file(tmp_path: Path) -> Path:
    rows = [
        {"id": "1", "lang": "en", "text": "Warplanes carried out airstrikes on rebel positions.", "labels": ["offensive"]},
        {"id": "2", "lang": "en", "text": "The truce was extended by a month.", "labels": ["ceasefire"]},
        {"id": "3", "lang": "en", "text": "The army sent reinforcements to the border.", "labels": ["troop_buildup"]},
        {"id": "4", "lang": "en", "text": "The bank raised interest rates.", "labels": []},
    ]
    f = tmp_path / "eval.jsonl"
    f.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    return f


def test_eval_json_has_exactly_the_documented_shape(tmp_path, capsys):
    code, out, _ = run(capsys, "eval", str(_eval_file(tmp_path)), "--json")
    scores = json.loads(out)
    assert code == 0 and set(scores) == {"n", "per_class", "macro_f1"} and scores["n"] == 4
    assert set(scores["per_class"]) == {"offensive", "ceasefire", "troop_buildup"}
    for c in scores["per_class"].values():
        assert set(c) == {"precision", "recall", "f1", "support"}
    assert scores["macro_f1"] == 1.0


def test_eval_normalize(tmp_path, capsys):
    f = tmp_path / "norm.jsonl"
    f.write_text(json.dumps({"id": "x", "text": "زار روسياوتركيا عام1990 و1991",
                             "fixes": [{"raw": "روسياوتركيا", "fixed": "روسيا وتركيا", "kind": "run_together"},
                                       {"raw": "عام1990", "fixed": "عام 1990", "kind": "digit_glued"}],
                             "keep": [{"raw": "و1991", "why": "proclitic"}]}), encoding="utf-8")
    code, out, _ = run(capsys, "eval-normalize", str(f), "--json")
    assert json.loads(out) == {"n": 1, "fixes": {"total": 2, "correct": 2}, "keeps": {"total": 1, "kept": 1}}


@pytest.mark.parametrize("argv, message", [
    (["tag", "/no/such/file"], "no such file"),
    (["eval", "/no/such.jsonl"], "no such file"),
])
def test_user_errors_say_what_to_do(capsys, argv, message):
    code, _, err = run(capsys, *argv)
    assert code == 2 and message in err and "newswatch:" in err


def test_eval_rejects_bad_lines(tmp_path, capsys):
    f = tmp_path / "bad.jsonl"
    f.write_text('{"text": "x"}\nnot json\n', encoding="utf-8")
    code, _, err = run(capsys, "eval", str(f))
    assert code == 2 and "missing field(s) labels" in err
