"""Generated bad messages mixed with valid items through the real running pipeline (real Kafka,
real OpenSearch, Prism): every valid item is indexed exactly once, every bad message is
dead-lettered exactly once with its reason, the pipeline stays up and commits every offset.

Opt-in (`pytest -m fuzz`). NEWSWATCH_FUZZ_STREAM_BAD / NEWSWATCH_FUZZ_STREAM_GOOD change the
volume (default 3,000 bad messages, 300 valid items). The unit fuzz suite
(tests/unit/test_fuzz.py) covers the same chain with 10,000+ inputs and no servers; this one
checks that the running pipeline routes, dead-letters and commits them.
"""
from __future__ import annotations

import base64
import json
import os
import random
from collections import Counter

import jsonschema
import pytest
from kafka import TopicPartition

from newswatch.connectors import kafka
from newswatch.connectors.search import SearchBackend
from newswatch.pipelines.nlp.resources import SCHEMA_DIR

from .conftest import count, wait_for

pytestmark = pytest.mark.fuzz

N_BAD = int(os.environ.get("NEWSWATCH_FUZZ_STREAM_BAD", "3000"))
N_GOOD = int(os.environ.get("NEWSWATCH_FUZZ_STREAM_GOOD", "300"))
SEED = 20261125

SENTENCES = [
    "Government warplanes carried out airstrikes on rebel positions near Aleppo.",
    "The two sides agreed to extend the ceasefire in Gaza for another month.",
    "The army sent 3,000 troops and tanks to the border.",
    "The central bank kept interest rates unchanged on Tuesday.",
    "شنت الطائرات الحربية غارات على مواقع المسلحين شمال دمشق.",
    "أرسل الجيش تعزيزات عسكرية إلى الحدود الشمالية.",
    "أعلن الطرفان التوصل إلى هدنة لمدة شهر.",
    "افتتح الوزير معرضا للكتاب في العاصمة.",
]
# Odd but legal text, as JSON-text fragments: lone surrogate escapes, NUL and other controls,
# noncharacters (repaired at parse time), bidi marks, tatweel, Arabic-Indic digits, astral emoji.
REPAIRED = ["\\ud800", "\\udfff", "\\udc00\\ud83d", "\\u0000", "\\u001b", "\\u0085", "\ufffe", "\ufdd0", "\U0010ffff"]
HARMLESS = ["\u200f", "\u202b", "\u202e", "\u2067", "\u200b", "\u0640", "\u064b", "٣٠٠٠", "😀", "\u00a0", "\\t", "\\n"]
SAFE_DATES = [None, "2026-11-25T08:00:00Z", "2026-11-25T08:00:00.123+03:00", "2026-11-25", "2026-11-25T08:00"]
FIELDS = ("id", "url", "title", "text", "published_at", "source")


# --- generated messages -------------------------------------------------------------------------

def _json_string(rng: random.Random, fragments: list[str], base: str) -> str:
    """A JSON string literal: base with fragments (JSON-text escapes or characters) inserted."""
    words = json.dumps(base, ensure_ascii=rng.random() < 0.3)[1:-1].split(" ")
    for fragment in fragments:
        words.insert(rng.randrange(len(words) + 1), fragment)
    return '"' + " ".join(words) + '"'


def valid_item(rng: random.Random, i: int) -> tuple[str, bytes, bool]:
    """(id, message, whether parsing must repair it): a valid item with odd text."""
    item_id = f"fuzz-{i}" + rng.choice(["", "-خبر", "-😀", "-\u200f", "_x"])
    repaired = [rng.choice(REPAIRED) for _ in range(rng.choice([0, 0, 1, 3]))]
    harmless = [rng.choice(HARMLESS) for _ in range(rng.randrange(4))]
    text = " ".join(rng.choice(SENTENCES) for _ in range(rng.randint(1, 4)))
    if rng.random() < 0.1:
        text += " " + rng.choice(["ا", "ab", "الجيش", "1"]) * rng.randint(500, 5000)  # a very long word
    members = {
        "id": json.dumps(item_id, ensure_ascii=False),
        "url": json.dumps(f"https://news.example.invalid/{i}?q=غزة"),
        "title": _json_string(rng, harmless[:1], f"item {i}"),
        "text": _json_string(rng, repaired + harmless, text),
        "published_at": json.dumps(rng.choice(SAFE_DATES)),
        "source": json.dumps(rng.choice(["newswatch-fuzz", "وكالة", "src\u202e"]), ensure_ascii=False),
    }
    extras = [("meta", json.dumps({"tags": ["a", {"b": [1.5e300, None, "\ud800"]}]})),
              ("nested", "[" * 100 + "]" * 100), ("big", "9" * 1000), ("flag", "true")]
    pairs = list(members.items()) + rng.sample(extras, rng.randrange(len(extras) + 1))
    rng.shuffle(pairs)
    if rng.random() < 0.2:  # a duplicate key first: the last value wins
        pairs.insert(0, (rng.choice(FIELDS), "12345"))
    body = "{" + ", ".join(f"{json.dumps(k)}: {v}" for k, v in pairs) + "}"
    return item_id, body.encode("utf-8"), bool(repaired)


def _item_members(rng: random.Random, i: int) -> dict[str, object]:
    return {"id": f"bad-{i}", "url": "https://news.example.invalid/bad", "title": "t",
            "text": rng.choice(SENTENCES), "published_at": "2026-11-25T08:00:00Z", "source": "newswatch-fuzz"}


def _encoded(item: dict) -> bytes:
    return json.dumps(item, ensure_ascii=False).encode("utf-8")


INVALID_UTF8 = [b"\xff", b"\xfe", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\x80", b"\xe2\x82"]
BAD_VALUES = {"id": ["", "a b", "a/b", 7, None, ["x"]], "url": ["", None, 1], "title": ["t" * 2001, None, {}],
              "text": ["", "   ", "\u3000\n", "\x00\x01", None, 3.5], "published_at": ["yesterday", "2026-02-30", 5, []],
              "source": ["", None, "s" * 257], "language": ["EN", "eng", 1]}


def bad_message(rng: random.Random, i: int, max_bytes: int) -> tuple[bytes, set[str]]:
    """One bad message and the reasons it may be dead-lettered for."""
    item = _item_members(rng, i)
    kind = rng.choices(["empty", "bad_utf8", "bad_json", "schema", "random", "too_large"],
                       weights=[3, 20, 30, 40, 7, 0.1])[0]
    if kind == "empty":
        return rng.choice([b"", b" ", b"\n", b"\t\r\n "]), {"empty"}
    if kind == "too_large":
        return _encoded(item | {"text": "x" * (max_bytes + rng.randrange(1000))}), {"too_large"}
    if kind == "bad_utf8":
        raw = _encoded(item)
        at = rng.randrange(len(raw) + 1)
        return rng.choice([raw[:at] + rng.choice(INVALID_UTF8) + raw[at:], raw.decode().encode("utf-16"),
                           b"\xff" + rng.randbytes(rng.randrange(200))]), {"bad_utf8"}
    if kind == "bad_json":
        raw = _encoded(item)
        return rng.choice([
            raw[:rng.randrange(1, raw.rindex(b"}"))], b"\xef\xbb\xbf" + raw, raw + b" x", raw + raw,
            b"[" * rng.choice([1_000, 50_000]), raw.replace(b'"t"', b'"a\x01b"'), str(item).encode(),
            raw.replace(b'"title": "t"', b'"title": ' + b"9" * 5000), raw[:-1] + b",}", b"{" * 5, b"nul",
        ]), {"bad_json", "bad_utf8", "empty"}
    if kind == "schema":
        return _schema_violation(rng, item), {"schema"}
    return rng.randbytes(rng.randint(1, 400)), {"empty", "bad_utf8", "bad_json", "schema"}


def _schema_violation(rng: random.Random, item: dict) -> bytes:
    how = rng.choice(["missing", "bad_value", "top_level"])
    if how == "missing":
        del item[rng.choice(FIELDS)]
    elif how == "bad_value":
        key = rng.choice(sorted(BAD_VALUES))
        item[key] = rng.choice(BAD_VALUES[key])
    else:
        return rng.choice([b"[]", b"[1, 2]", b"42", b'"text"', b"null", b"true", b"NaN", json.dumps([item]).encode(),
                           json.dumps(json.dumps(item)).encode(), b"[" * 200 + b"]" * 200])
    return _encoded(item)


# --- reading the results ------------------------------------------------------------------------

def all_committed(settings) -> bool:
    ends = kafka.end_offsets(settings.kafka, settings.kafka.topic)
    committed = kafka.committed_offsets(settings.kafka, settings.kafka.topic)
    return all((committed.get(p) or 0) >= end for p, end in ends.items())


def dead_letters(settings) -> list[dict]:
    """Every record on the DLQ topic, read up to its end offsets (so duplicates show)."""
    consumer = kafka.new_consumer(settings.kafka, enable_auto_commit=False, consumer_timeout_ms=5000,
                                  max_partition_fetch_bytes=8 * 1024 * 1024)
    try:
        parts = [TopicPartition(settings.kafka.dlq_topic, p)
                 for p in kafka.partitions_of(settings.kafka, settings.kafka.dlq_topic)]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        ends = consumer.end_offsets(parts)
        found = []
        while any(consumer.position(tp) < ends[tp] for tp in parts):
            batch = consumer.poll(timeout_ms=2000)
            found.extend(json.loads(m.value) for records in batch.values() for m in records)
        return found
    finally:
        consumer.close()


def indexed_articles(settings) -> list[dict]:
    backend = SearchBackend(settings.search)
    backend.refresh(settings.search.articles_index)
    hits = backend.search(settings.search.articles_index, {"size": 10_000, "_source": ["id", "repairs"],
                                                           "query": {"match_all": {}}})["hits"]["hits"]
    return [h["_source"] for h in hits]


# --- the test -----------------------------------------------------------------------------------

def test_generated_bad_messages_are_dead_lettered_once_and_valid_items_indexed_once(settings, pipeline):
    rng = random.Random(SEED)
    good = [valid_item(rng, i) for i in range(N_GOOD)]
    bad = [bad_message(rng, i, settings.pipeline.max_item_bytes) for i in range(N_BAD)]
    values = [raw for _, raw, _ in good] + [raw for raw, _ in bad]
    rng.shuffle(values)

    proc = pipeline()
    kafka.produce(settings.kafka, values)
    wait_for(lambda: all_committed(settings), 1200, "every offset to be committed", proc)
    assert proc.alive(), "the pipeline must survive the bad messages"

    articles = indexed_articles(settings)
    ids = Counter(a["id"] for a in articles)
    assert count(settings, settings.search.articles_index) == N_GOOD
    assert ids == Counter(item_id for item_id, _, _ in good), "every valid item indexed exactly once, nothing else"
    repaired = {item_id for item_id, _, needs in good if needs}
    assert {a["id"] for a in articles if a["repairs"]} == repaired, "each repaired item says so in `repairs`"

    letters = dead_letters(settings)
    schema = json.loads((SCHEMA_DIR / "dlq_record.schema.json").read_text(encoding="utf-8"))
    for letter in letters:
        jsonschema.validate(letter, schema)
        assert letter["error"] and letter["source"]["topic"] == settings.kafka.topic
    originals = Counter(base64.b64decode(d["original_b64"]) for d in letters)
    unexpected = [(d["reason"], d["error"][:300]) for d in letters
                  if base64.b64decode(d["original_b64"]) not in {raw for raw, _ in bad}]
    assert not unexpected, f"valid items were dead-lettered: {unexpected[:5]}"
    assert originals == Counter(raw for raw, _ in bad), "every bad message dead-lettered exactly once"
    allowed = {}
    for raw, reasons in bad:
        allowed.setdefault(raw, set()).update(reasons)
    wrong = [(d["reason"], base64.b64decode(d["original_b64"])[:120]) for d in letters
             if d["reason"] not in allowed[base64.b64decode(d["original_b64"])]]
    assert not wrong, f"dead-lettered for an unexpected reason: {wrong[:5]}"
    print(f"{N_BAD} bad messages dead-lettered ({dict(Counter(d['reason'] for d in letters))}), "
          f"{N_GOOD} valid items indexed ({len(repaired)} repaired)")
