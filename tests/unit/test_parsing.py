"""Parsing repairs what JSON allows and Unicode does not, and never raises on what a producer sends."""
import json

import pytest

from newswatch.pipelines.model import Article, DeadLetter, KafkaRecord
from newswatch.pipelines.parsing import news_item_validator, parse_item, repair_string


@pytest.fixture(scope="module")
def validator():
    return news_item_validator()


def _record(value: bytes) -> KafkaRecord:
    return KafkaRecord("news", 0, 5, 4, 0, None, value)


def _item_json(text_literal: str) -> bytes:
    """A news item whose text is given as raw JSON string content (escapes kept as written)."""
    return ('{"id": "r-1", "url": "https://x.invalid/1", "title": "t", "published_at": null, "source": "s", '
            f'"text": "{text_literal}"}}').encode()


@pytest.mark.parametrize("text, expected, note", [
    ("a\ud800b", "a\ufffdb", "1 lone surrogate"),
    ("\udc00\ud83d", "\ufffd\ufffd", "2 lone surrogates"),
    ("x\x00y\x07z", "x y z", "2 control characters"),
    ("q\ufdd0\U0010ffff", "q\ufffd\ufffd", "2 noncharacters"),
    ("tab\tnew\nline\r", "tab\tnew\nline\r", None),
])
def test_repair_string_replaces_one_for_one(text, expected, note):
    fixed, notes = repair_string(text)
    assert fixed == expected and len(fixed) == len(text)
    assert (note in notes) if note else not notes


def test_lone_surrogate_escape_is_repaired_and_recorded(validator):
    article = parse_item(_record(_item_json("Troops massed \\\\ud800 at the border \\\\u0000.".replace("\\\\", "\\"))),
                         validator, 10_000)
    assert isinstance(article, Article)
    assert article.item["text"] == "Troops massed \ufffd at the border  ."
    assert article.repairs == ["text: 1 lone surrogate, 1 control character replaced"]
    json.dumps(article.item, ensure_ascii=False).encode("utf-8")  # now storable


def test_deep_nesting_is_a_dead_letter_not_a_crash(validator):
    letter = parse_item(_record(b"[" * 50_000 + b"]" * 50_000), validator, 1_000_000)
    assert isinstance(letter, DeadLetter) and letter.reason == "bad_json" and "nests" in letter.error


def test_deep_nesting_inside_a_valid_item_is_handled(validator):
    value = json.loads(_item_json("ok"))
    nested = "[" * 900 + "]" * 900
    raw = json.dumps(value)[:-1].encode() + b', "extra": ' + nested.encode() + b"}"
    result = parse_item(_record(raw), validator, 1_000_000)
    assert isinstance(result, (Article, DeadLetter))


def test_a_corrupt_read_becomes_a_corrupt_batch_letter(validator):
    record = KafkaRecord("news", 0, 5, 4, 0, None, b"", read_error="CRC mismatch in offsets 5-9")
    letter = parse_item(record, validator, 100)
    assert letter.reason == "corrupt_batch" and "5-9" in letter.error


def test_huge_integers_are_bad_json(validator):
    raw = _item_json("x")[:-1] + b', "n": ' + b"9" * 5000 + b"}"
    result = parse_item(_record(raw), validator, 1_000_000)
    assert isinstance(result, DeadLetter) and result.reason == "bad_json"
