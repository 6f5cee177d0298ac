"""Fuzz suite for the whole per-record chain without Beam (RecordProcessor: parse, validate,
language, normalize, tag, geo, documents): whatever a producer sends, the chain returns an
IndexRequest or a dead letter with a reason, and never raises.

Two families of generated input:
- structure-aware: JSON that is almost a news item (schemas/news_item.schema.json): valid items
  with odd text, items with one defect, extra and deeply nested fields, duplicate keys, other
  top-level types;
- byte-level: random bytes, truncated and mutated items, invalid UTF-8, BOMs and other
  encodings, deep `[[[[`.

Whether an input is valid is decided by the generator (it knows what it broke, and how), not by
the validator under test; where it cannot know (a mutated item may still be valid) only the
properties every result must have are checked.

The default run is a fixed, derandomized slice (FAST: ~200 examples per strategy, reproducible in
CI). `pytest -m fuzz` runs every strategy again with random examples, over 10,000 in total.
"""
from __future__ import annotations

import base64
import json
import string
import sys
from dataclasses import dataclass, field
from datetime import UTC, timedelta, timezone

import jsonschema
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from newswatch.pipelines.article_steps import RecordProcessor
from newswatch.pipelines.model import DEAD_LETTER_REASONS, DeadLetter, IndexRequest, KafkaRecord
from newswatch.pipelines.nlp.resources import SCHEMA_DIR
from newswatch.pipelines.parsing import MAX_ID_BYTES
from newswatch.pipelines.settings import SearchSettings

NOW = "2026-11-25T09:00:00Z"
MAX_ITEM_BYTES = 1_000_000
SMALL_MAX_BYTES = 2048  # the too_large property runs on a processor with this limit
FIELDS = ("id", "url", "title", "text", "published_at", "source")  # all required by the schema
NULLABLE = {"published_at"}

# --- run modes ----------------------------------------------------------------------------------

_COMMON = {"database": None, "deadline": None,
           "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.large_base_example, HealthCheck.filter_too_much]}
FAST = settings(max_examples=200, derandomize=True, **_COMMON)


def fuzz_settings(examples: int) -> settings:
    """Random examples for the opt-in run; print_blob gives a failure's @reproduce_failure line."""
    return settings(max_examples=examples, derandomize=False, print_blob=True, **_COMMON)


def modes(fuzz_examples: int) -> list:
    """The default slice, and the opt-in fuzz run (marker `fuzz`) with `fuzz_examples` inputs."""
    return [pytest.param(FAST, id="slice"),
            pytest.param(fuzz_settings(fuzz_examples), id="fuzz", marks=pytest.mark.fuzz)]


def run_property(mode: settings, strategy, check, examples=()) -> int:
    """Runs check over the strategy's examples under mode; returns how many inputs it ran."""
    calls = 0

    def prop(case):
        nonlocal calls
        calls += 1
        check(case)

    test = given(strategy)(prop)
    for ex in examples:
        test = example(ex)(test)
    mode(test)()
    if not mode.derandomize:  # the opt-in run promises its inputs: 10,000+ over the module
        assert calls >= mode.max_examples, f"only {calls} of {mode.max_examples} generated inputs ran"
    return calls


# --- the chain under test -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def processor() -> RecordProcessor:
    """Built once: the tagger loads its lexicons and gazetteer (seconds)."""
    proc = RecordProcessor(SearchSettings(), MAX_ITEM_BYTES)
    proc.process(record(b'{"warm": "up"}'), NOW)
    return proc


@pytest.fixture(scope="module")
def small_processor(processor) -> RecordProcessor:
    return RecordProcessor(processor.search_settings, SMALL_MAX_BYTES, tagger=processor.tagger)


@pytest.fixture(scope="module")
def dlq_validator():
    schema = json.loads((SCHEMA_DIR / "dlq_record.schema.json").read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def record(raw: bytes) -> KafkaRecord:
    return KafkaRecord("news", 2, 41, 40, 1_764_061_200_000, b"k", raw)


# --- properties every result has ----------------------------------------------------------------

def byte_level_reason(raw: bytes, max_bytes: int) -> str | None:
    """The reason the message's bytes alone decide, before any JSON is read."""
    if not raw.strip():
        return "empty"
    if len(raw) > max_bytes:
        return "too_large"
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return "bad_utf8"
    return None


def assert_dead_letter_well_formed(letter: DeadLetter, raw: bytes, dlq_validator) -> None:
    assert letter.reason in DEAD_LETTER_REASONS
    assert isinstance(letter.error, str) and letter.error.strip(), "a dead letter must say what was wrong"
    assert letter.reason != "processing_error", f"a newswatch step raised on this input: {letter.error}"
    payload = json.loads(letter.to_json())  # to_json encodes UTF-8: an unrepaired surrogate raises here
    dlq_validator.validate(payload)
    assert payload["reason"] == letter.reason and payload["error"] == letter.error
    assert base64.b64decode(payload["original_b64"], validate=True) == raw


def serialized(doc: dict) -> bytes:
    """What the bulk request sends: strict JSON (no NaN) in UTF-8 (no lone surrogate)."""
    return json.dumps(doc, ensure_ascii=False, allow_nan=False).encode("utf-8")


def assert_documents_well_formed(request: IndexRequest, search: SearchSettings) -> None:
    index, doc_id, article = request.docs[0]
    assert index == search.articles_index and doc_id == request.item_id == article["id"]
    assert isinstance(article["repairs"], list)
    ids = set()
    for _index, doc_id, doc in request.docs:
        assert serialized(doc)
        assert isinstance(doc_id, str) and doc_id not in ids, f"document id {doc_id!r} twice in one article"
        ids.add(doc_id)
    for index, doc_id, doc in request.docs[1:]:
        assert index == search.events_index and doc["article_id"] == request.item_id
        assert doc_id.startswith(f"{request.item_id}:")


def process_and_check(proc: RecordProcessor, raw: bytes, dlq_validator):
    """The result of one input, after the properties every result must have."""
    result = proc.process(record(raw), NOW)
    assert isinstance(result, IndexRequest | DeadLetter), f"process() returned {type(result).__name__}"
    if isinstance(result, DeadLetter):
        assert_dead_letter_well_formed(result, raw, dlq_validator)
        assert result.record.value == raw
    else:
        assert_documents_well_formed(result, proc.search_settings)
    expected = byte_level_reason(raw, proc.max_item_bytes)
    if expected:
        assert isinstance(result, DeadLetter) and result.reason == expected, (expected, result)
    return result


# --- text pieces: (as sent, as parsing must repair it) ------------------------------------------

NONCHARACTERS = [chr(cp) for cp in range(0xFDD0, 0xFDF0)] + [chr(plane * 0x10000 + low) for plane in range(17)
                                                             for low in (0xFFFE, 0xFFFF)]
CONTROLS = [chr(cp) for cp in [*range(0x20), *range(0x7F, 0xA0)] if chr(cp) not in "\t\n\r"]
MARKS = ["\u200f", "\u200e", "\u061c", "\u202b", "\u202e", "\u202c", "\u2067", "\u2069", "\u200b", "\u200d",
         "\ufeff", "\u0640", "\u064b\u0651", "\u00ad", "\u2028", "\u00a0", "\u3000"]
VOCAB = ["airstrikes", "ceasefire", "truce", "troops", "tanks", "reinforcements", "shelled", "army", "rebels",
         "killed", "border", "Gaza", "Damascus", "Aleppo", "Mosul", "U.S.", "3,000", "ISIS",
         "قصفت", "غارات", "هدنة", "وقف إطلاق النار", "تعزيزات", "الجيش", "دبابات", "غزة", "دمشق", "حلب",
         "المسلحين", "١٢٣", "۴۵", "الولاياتالمتحدة", "ﻻ", "ﷺ", "قتل15", "😀", "中文", "ελληνικά"]
UNITS = ["ا", "a", "ال", "1", "ب", "x", "ة", "و", "-a", "ال1", "؟!", "الجيش", "😀", "\u0651"]


def _same(s: str) -> tuple[str, str]:
    return s, s


# Unassigned code points (Cn, the noncharacters among them) are left out so no filter slows the
# draw down; UNASSIGNED puts a few back. Tabs and newlines come from SHORT_PIECE's separators.
CLEAN_CHARS = st.characters(exclude_categories=("Cs", "Cc", "Cn"))
# no whitespace (Python's \s: Cc, Zs, Zl, Zp cover every code point str.isspace() accepts) and no /
ID_CHARS = st.characters(exclude_categories=("Cs", "Cc", "Cn", "Zs", "Zl", "Zp"), exclude_characters="/")
UNASSIGNED = ["\u0378", "\u05ff", "\U000e0080", "\U0003fffd", "\U0010fffd"]
ANY_CHARS = st.characters(exclude_categories=())  # surrogates, controls and noncharacters included


def _no_surrogate_pairs(cps: list[int]) -> bool:
    """Escapes of a high then a low surrogate are one valid character in JSON, not two lone ones."""
    return not any(0xD800 <= a <= 0xDBFF and 0xDC00 <= b <= 0xDFFF for a, b in zip(cps, cps[1:], strict=False))


LONE_SURROGATES = st.lists(st.integers(0xD800, 0xDFFF), min_size=1, max_size=3).filter(_no_surrogate_pairs).map(
    lambda cps: ("".join(map(chr, cps)), "\ufffd" * len(cps)))
ODD_FOR_ID = st.one_of(LONE_SURROGATES, st.sampled_from(NONCHARACTERS).map(lambda c: (c, "\ufffd")))
ODD = st.one_of(ODD_FOR_ID, st.sampled_from(CONTROLS).map(lambda c: (c, " ")))

WORD = st.sampled_from(VOCAB).map(_same)
SHORT_PIECE = st.one_of(WORD, st.text(CLEAN_CHARS, max_size=12).map(_same), st.sampled_from(MARKS + UNASSIGNED).map(_same),
                        st.sampled_from([" ", "\n", "\n\n", ". ", "، ", " - ", "\t", "\r\n"]).map(_same))
# at most one per text, of at most 20,000 code points: a valid item stays under MAX_ITEM_BYTES
# even with every character written as a \uXXXX escape
LONG_WORD = st.builds(lambda unit, n: (unit * n)[:n], st.sampled_from(UNITS), st.integers(50, 20_000)).map(_same)
HUGE_NUMBER = st.integers(10**20, 10**400).map(str).map(_same)
BODY_PIECE = st.one_of(SHORT_PIECE, WORD, HUGE_NUMBER)


def join(pieces: list[tuple[str, str]]) -> tuple[str, str]:
    """Concatenated pieces, with a separator where a high surrogate would meet a low one."""
    raw, fixed = "", ""
    for piece_raw, piece_fixed in pieces:
        if raw and piece_raw and 0xD800 <= ord(raw[-1]) <= 0xDBFF and 0xDC00 <= ord(piece_raw[0]) <= 0xDFFF:
            raw, fixed = raw + "-", fixed + "-"
        raw, fixed = raw + piece_raw, fixed + piece_fixed
    return raw, fixed


def field_text(piece, odd=ODD, max_pieces: int = 4, word: bool = True, long_word: bool = False):
    """A field's text from pieces, odd code points among them; with word, at least one
    visible word (so the text is never blank, even after repair); with long_word, maybe one
    very long word at the end."""
    pieces = st.lists(st.one_of(piece, piece, odd) if odd is not None else piece, max_size=max_pieces)
    if not word:
        return pieces.map(join)
    tail = st.one_of(st.just([]), LONG_WORD.map(lambda w: [w])) if long_word else st.just([])
    return st.tuples(pieces, WORD, pieces, tail).map(lambda t: join(t[0] + [t[1]] + t[2] + t[3]))


ID_TEXT = st.one_of(
    st.lists(st.one_of(st.text(ID_CHARS, min_size=1, max_size=24).map(_same), ODD_FOR_ID),
             min_size=1, max_size=5).map(join),
    # the longest allowed id: 256 characters, or MAX_ID_BYTES of UTF-8 when that comes first
    st.sampled_from(["a", "ا", "😀", "\u200f", "x"]).map(lambda c: _same(c * min(256, MAX_ID_BYTES // len(c.encode())))))


# --- JSON text ----------------------------------------------------------------------------------

def encode(json_text: str) -> bytes:
    """UTF-8 of a JSON text; a lone surrogate, which UTF-8 cannot carry, becomes its \\uXXXX
    escape (legal JSON). Surrogates occur only inside strings, so the escape lands in one."""
    return json_text.encode("utf-8", "backslashreplace")


@dataclass
class Member:
    key: str
    value: str  # the value's JSON text


@dataclass
class Layout:
    ensure_ascii: bool
    comma: str
    colon: str
    before: str
    after: str


LAYOUTS = st.builds(Layout, st.booleans(), st.sampled_from([",", ", ", ",\n  ", " ,\t"]),
                    st.sampled_from([":", ": ", " : "]), st.sampled_from(["", " ", "\n", "\r\n\t"]),
                    st.sampled_from(["", " ", "\n", "\t\r\n"]))


def render(members: list[Member], layout: Layout) -> bytes:
    body = layout.comma.join(json.dumps(m.key, ensure_ascii=layout.ensure_ascii) + layout.colon + m.value
                             for m in members)
    return encode(layout.before + "{" + body + "}" + layout.after)


def dumps(value, ensure_ascii: bool = False) -> str:
    return json.dumps(value, ensure_ascii=ensure_ascii)


ODD_STRINGS = st.text(ANY_CHARS, max_size=8)  # inside nested values, which are neither repaired nor indexed
JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10**30, 10**30),
                         st.floats(allow_nan=False, allow_infinity=False), ODD_STRINGS)
JSON_VALUES = st.recursive(JSON_SCALARS, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(ODD_STRINGS, inner, max_size=4), max_leaves=6)
# Numbers JSON allows and Python reads (4300 digits is Python's default int-from-text limit)
BIG_NUMBERS = ["9" * 4300, "-" + "1" * 1000, "1e400", "-1e400", "1e-400", "-0", "0.1e1", "123456789.987654321e-5",
               "1" + "0" * 400 + ".5"]
EXTRA_VALUES = st.one_of(  # not top-level strings: those are Extra(repaired=...) below
    JSON_VALUES.filter(lambda v: not isinstance(v, str)).map(dumps),
    st.sampled_from(BIG_NUMBERS),
    st.integers(1, 200).map(lambda d: "[" * d + "]" * d),
    st.integers(1, 100).map(lambda d: '{"a":' * d + "null" + "}" * d),
)
KEY_TEXT = field_text(st.text(st.characters(exclude_categories=("Cs", "Cc", "Cn"), exclude_characters=":"),
                              min_size=1, max_size=8).map(_same),
                      max_pieces=3, word=False).filter(lambda kv: kv[0] not in FIELDS and kv[0] != "language")


@dataclass
class Extra:
    key: tuple[str, str]
    value: str
    repaired: bool = False  # a top-level string whose text parsing must repair


EXTRAS = st.lists(st.one_of(
    st.builds(Extra, KEY_TEXT, EXTRA_VALUES),
    st.builds(lambda k, t: Extra(k, dumps(t[0]), t[0] != t[1]), KEY_TEXT, field_text(SHORT_PIECE, word=False)),
), max_size=3, unique_by=lambda e: e.key[0])

PUBLISHED_AT = st.one_of(
    st.none(),
    st.sampled_from(["2026-11-25T08:00:00Z", "2026-11-25T08:00:00.123+03:00", "2026-11-25", "2026-11-25T08:00"]),
    # offsets in whole minutes within ±18:00, as RFC 3339 and the index's date mapping have them
    st.datetimes(timezones=st.one_of(st.none(), st.just(UTC), st.integers(-18 * 60, 18 * 60).map(
        lambda m: timezone(timedelta(minutes=m))))).map(lambda d: d.isoformat()))


# --- cases --------------------------------------------------------------------------------------

@dataclass
class Case:
    """One generated input and what must come of it."""
    raw: bytes
    indexed: bool | None  # True: an IndexRequest; False: a dead letter; None: either
    reasons: frozenset[str] = frozenset()  # the allowed dead-letter reasons (empty: any)
    item_id: str | None = None  # the id (as repaired): the article's doc id, or the dead letter's item_id
    expected: dict = field(default_factory=dict)  # article fields as repaired
    repaired_fields: frozenset[str] = frozenset()  # known fields whose text was repaired
    repair_notes: int = 0  # top-level fields (known or extra) whose text was repaired

    def __repr__(self) -> str:  # what Hypothesis prints for a failing example: its bytes, if not huge
        cut = f" (first 4000 of {len(self.raw)} bytes)" if len(self.raw) > 4000 else ""
        return f"Case(indexed={self.indexed}, reasons={sorted(self.reasons)}, raw={self.raw[:4000]!r}{cut})"


@dataclass
class Item:
    """A valid news item as JSON members, and what parsing must make of it."""
    members: list[Member]
    layout: Layout
    item_id: str
    expected: dict
    repaired_fields: frozenset[str]
    repair_notes: int

    def case(self) -> Case:
        return Case(render(self.members, self.layout), True, frozenset(), self.item_id, self.expected,
                    self.repaired_fields, self.repair_notes)

    def without(self, key: str) -> list[Member]:
        return [m for m in self.members if m.key != key]

    def replaced(self, key: str, value: str) -> list[Member]:
        return [Member(m.key, value) if m.key == key else m for m in self.members]


FIELD_TEXTS = {"id": ID_TEXT, "url": field_text(SHORT_PIECE), "title": field_text(SHORT_PIECE, word=False),
               "text": field_text(BODY_PIECE, long_word=True), "source": field_text(SHORT_PIECE)}
LANGUAGE = st.one_of(st.none(), st.text(string.ascii_lowercase, min_size=2, max_size=2))


@st.composite
def items(draw, extras: bool = True) -> Item:
    texts = {key: draw(strategy) for key, strategy in FIELD_TEXTS.items()}
    published_at = draw(PUBLISHED_AT)
    layout = draw(LAYOUTS)
    members = [Member(k, dumps(raw, layout.ensure_ascii)) for k, (raw, _) in texts.items()]
    members.append(Member("published_at", dumps(published_at)))
    language = draw(LANGUAGE)
    if language:
        members.append(Member("language", dumps(language)))
    extra = draw(EXTRAS) if extras else []
    members += [Member(e.key[0], e.value) for e in extra]
    members = draw(st.permutations(members))
    # duplicate keys: Python's json keeps the last one, so a bad value before the real one is harmless
    members = [Member(k, value) for k, value in draw(DECOYS)] + members
    repaired = frozenset(k for k, (raw, fixed) in texts.items() if raw != fixed)
    expected = {k: texts[k][1] for k in ("url", "title", "source")} | {"published_at": published_at}
    return Item(members, layout, texts["id"][1], expected, repaired,
                len(repaired) + sum(e.repaired for e in extra))


MISTYPED = ["0", "-1.5", "true", "false", "[]", "{}", '["x"]', '{"a": "b"}', "1e400", "9" * 50, "NaN",
            '[[[[["deep"]]]]]', "[null]"]
DECOYS = st.lists(st.tuples(st.sampled_from(FIELDS), st.sampled_from(MISTYPED)), max_size=2, unique_by=lambda d: d[0])
# Strings that break one field's constraints. Controls are repaired to a space, so they make an
# id or a text invalid too; a lone surrogate becomes U+FFFD, which is no date.
BAD_STRINGS = {
    "id": ["", "a b", "a/b", "/", "a\tb", "\u3000", "a\u00a0b", "a\x00b", "a\u2028b", "\x85", "\nabc", "x" * 257,
           "a\x1fb"],
    "url": ["", "u" * 4097],
    "title": ["t" * 2001, "ت" * 2001],
    "text": ["", " ", "\n\t  \r\n", "\u3000\u00a0\u2003", "\x00", "\x01\x02 \x1f", "\x85", "\u2028\u2029",
             "\x00\n\x7f"],
    "published_at": ["", "yesterday", "2026-13-01T00:00:00Z", "2026-02-30T08:00:00Z", "25/11/2026",
                     "2026-11-25T25:00:00", "2026-11-25T08:00:00+25:00", "\ud800", "١٢٣٤-١١-٢٥",
                     "2026-11-25T08:00:00Z "],
    "source": ["", "s" * 257],
    "language": ["EN", "eng", "", "e", "1a", "عر", "e\u0301"],
}


def _defect(item: Item, kind: str, key: str, value: str, layout: Layout) -> tuple[bytes, frozenset[str]]:
    """One defect applied to a valid item: its bytes and the reasons it may be dead-lettered for."""
    schema = frozenset({"schema"})
    if kind == "missing":
        return render(item.without(key), layout), schema
    if kind in ("null", "mistyped", "bad_string"):
        return render(item.replaced(key, value), layout), schema
    if kind == "duplicate_last_bad":
        return render(item.members + [Member(key, value)], layout), schema
    if kind == "huge_int":  # more digits than Python turns into an int
        return render(item.replaced(key, "9" * 4301), layout), frozenset({"bad_json"})
    if kind == "deep":  # nested lists in a field: a schema error, or too deep to read at all
        depth = int(value)
        return render(item.replaced(key, "[" * depth + '"x"' + "]" * depth), layout), frozenset({"schema", "bad_json"})
    if kind == "raw_control":  # JSON forbids unescaped C0 controls in strings
        return render(item.replaced(key, '"a' + value + 'b"'), layout), frozenset({"bad_json"})
    if kind == "trailing":
        return render(item.members, layout) + value.encode(), frozenset({"bad_json"})
    if kind == "trailing_comma":
        raw = render(item.members, layout)
        end = raw.rindex(b"}")
        return raw[:end] + b"," + raw[end:], frozenset({"bad_json"})
    raise AssertionError(kind)


@st.composite
def defects(draw) -> tuple[str, str, str]:
    kind = draw(st.sampled_from(["missing", "null", "mistyped", "bad_string", "duplicate_last_bad", "huge_int",
                                 "deep", "raw_control", "trailing", "trailing_comma"]))
    key = draw(st.sampled_from(FIELDS))
    if kind == "null":
        key = draw(st.sampled_from([f for f in FIELDS if f not in NULLABLE]))
        return kind, key, "null"
    if kind in ("mistyped", "duplicate_last_bad"):
        return kind, key, draw(st.sampled_from(MISTYPED))
    if kind == "bad_string":
        key = draw(st.sampled_from(sorted(BAD_STRINGS)))
        return kind, key, dumps(draw(st.sampled_from(BAD_STRINGS[key])))
    if kind == "deep":
        return kind, key, str(draw(st.one_of(st.integers(1, 3000), st.just(50_000))))
    if kind == "raw_control":
        return kind, draw(st.sampled_from(["id", "url", "title", "text", "source"])), draw(
            st.sampled_from([chr(c) for c in range(0x20)]))
    if kind == "trailing":
        return kind, key, draw(st.sampled_from([" x", "{}", ",", '{"id": "b"}', "]", "\x00", " // comment"]))
    return kind, key, ""


@st.composite
def almost_items(draw) -> Case:
    """A valid item with exactly one defect: always dead-lettered, for a known reason."""
    item = draw(items())
    kind, key, value = draw(defects())
    if kind == "bad_string" and key == "language":
        item.members = item.without("language") + [Member("language", '"en"')]
    raw, reasons = _defect(item, kind, key, value, item.layout)
    keeps_id = key != "id" and kind not in ("deep", "huge_int", "raw_control", "trailing", "trailing_comma")
    return Case(raw, False, reasons, item.item_id if keeps_id else None)


def _wrapped(item: Item, how: str) -> bytes:
    inner = render(item.members, item.layout).decode("utf-8")
    return encode({"array": f"[{inner}]", "string": json.dumps(inner), "twice": f"{inner}\n{inner}"}[how])


@st.composite
def other_json(draw) -> Case:
    """Not a news item at the top level: other JSON types, non-standard tokens, wrapped items."""
    kind = draw(st.sampled_from(["value", "token", "wrapped", "huge_int"]))
    if kind == "value":
        value = draw(JSON_VALUES.filter(lambda v: not isinstance(v, dict)))
        return Case(encode(json.dumps(value, ensure_ascii=draw(st.booleans()))), False, frozenset({"schema"}))
    if kind == "token":  # Python's json reads these; they are no object either way
        token = draw(st.sampled_from(["NaN", "Infinity", "-Infinity", "true", "null", '""', "0", "[]", '"{}"']))
        return Case(token.encode(), False, frozenset({"schema"}))
    if kind == "huge_int":
        return Case(("9" * draw(st.integers(4301, 20_000))).encode(), False, frozenset({"bad_json"}))
    how = draw(st.sampled_from(["array", "string", "twice"]))
    reasons = {"array": "schema", "string": "schema", "twice": "bad_json"}[how]
    return Case(_wrapped(draw(items(extras=False)), how), False, frozenset({reasons}))


VALID_ITEMS = items().map(Item.case)


# --- byte-level strategies ----------------------------------------------------------------------

TOKENS = [b"{", b"}", b"[", b"]", b'"', b":", b",", b"\\", b"\\u", b"\\ud800", b"id", b'"text"', b"null", b"true",
          b"1e999", b"\xff", b"\xc3", b"\xa9", b"\xef\xbb\xbf", b"\x00", b" ", b"\n", b"\xd8\xa7", b"\xf0\x9f\x98"]
RANDOM_BYTES = st.one_of(st.binary(max_size=1024),
                         st.lists(st.one_of(st.sampled_from(TOKENS), st.binary(max_size=4)), max_size=60).map(b"".join))
# Never valid UTF-8, wherever they are inserted: bytes no character starts or continues with,
# overlong forms, encoded surrogates, beyond U+10FFFF, and lead bytes without their continuation.
INVALID_UTF8 = [b"\xff", b"\xfe", b"\xc0\xaf", b"\xc1\xbf", b"\xe0\x80\xaf", b"\xed\xa0\x80", b"\xed\xbf\xbf",
                b"\xf4\x90\x80\x80", b"\xf5\x80\x80\x80", b"\xf8\x88\x80\x80\x80", b"\x80", b"\xbf", b"\xc3",
                b"\xe2\x82", b"\xf0\x9f\x98"]


@st.composite
def truncated_items(draw) -> Case:
    """A valid item cut before its closing brace: never a whole JSON object."""
    raw = draw(VALID_ITEMS).raw
    cut = draw(st.integers(0, raw.rindex(b"}")))
    return Case(raw[:cut], False, frozenset({"empty", "bad_utf8", "bad_json"}))


MUTATIONS = st.one_of(
    st.tuples(st.just("set"), st.floats(0, 1), st.integers(0, 255)),
    st.tuples(st.just("insert"), st.floats(0, 1), st.binary(min_size=1, max_size=8)
              | st.sampled_from([b"\x00", b'"', b"\\", b"{", b"}", b"\xc0\x80", b"\\ud800", b"\\u00"])),
    st.tuples(st.just("delete"), st.floats(0, 1), st.integers(1, 16)),
    st.tuples(st.just("repeat"), st.floats(0, 1), st.integers(1, 64)),
)


def mutate(raw: bytes, op: tuple) -> bytes:
    kind, where, arg = op
    at = int(where * len(raw))
    if kind == "set":
        return raw[:at] + bytes([arg]) + raw[at + 1:]
    if kind == "insert":
        return raw[:at] + arg + raw[at:]
    if kind == "delete":
        return raw[:at] + raw[at + arg:]
    return raw[:at] + raw[at:at + arg] * 2 + raw[at + arg:]


@st.composite
def mutated_items(draw) -> Case:
    """A valid item with a few bytes changed: it may still be valid, so only the universal
    properties hold."""
    raw = draw(VALID_ITEMS).raw
    for op in draw(st.lists(MUTATIONS, min_size=1, max_size=4)):
        raw = mutate(raw, op)
    return Case(raw, None)


@st.composite
def misencoded_items(draw) -> Case:
    """Valid items in bytes that are not UTF-8 (or UTF-8 with a BOM, which JSON texts must not carry)."""
    raw = draw(VALID_ITEMS).raw
    kind = draw(st.sampled_from(["invalid_utf8", "utf8_bom", "utf16", "utf32"]))
    if kind == "invalid_utf8":
        at = draw(st.integers(0, len(raw)))
        return Case(raw[:at] + draw(st.sampled_from(INVALID_UTF8)) + raw[at:], False, frozenset({"bad_utf8"}))
    if kind == "utf8_bom":
        return Case(b"\xef\xbb\xbf" + raw, False, frozenset({"bad_json"}))
    text = raw.decode("utf-8")
    codec = draw(st.sampled_from({"utf16": ["utf-16", "utf-16-le", "utf-16-be"],
                                  "utf32": ["utf-32", "utf-32-le", "utf-32-be"]}[kind]))
    return Case(text.encode(codec), False, frozenset({"bad_utf8", "bad_json"}))


DEPTHS = st.one_of(st.integers(1, 3000), st.sampled_from([999, 1000, 1001, 5000, 50_000]), st.integers(3000, 60_000))


@st.composite
def deep_nesting(draw) -> Case:
    """`[[[[...` and `{"a":{"a":...`, closed or not, alone or inside a valid item."""
    depth = draw(DEPTHS)
    kind = draw(st.sampled_from(["lists", "unclosed", "objects", "in_item"]))
    if kind == "lists":
        return Case(b"[" * depth + b"]" * depth, False, frozenset({"schema", "bad_json"}))
    if kind == "unclosed":
        return Case(b"[" * depth, False, frozenset({"bad_json"}))
    if kind == "objects":
        return Case(b'{"a":' * depth + b"1" + b"}" * depth, False, frozenset({"schema", "bad_json"}))
    item = draw(items(extras=False))
    item.members.append(Member("nested", "[" * depth + "]" * depth))
    case = item.case()
    # shallow nesting is a valid item; past the interpreter's recursion limit json cannot read it
    if depth > 200:
        case.indexed, case.reasons = (False if depth >= sys.getrecursionlimit() else None), frozenset({"bad_json"})
    return case


# --- the checks ---------------------------------------------------------------------------------

def check_case(proc: RecordProcessor, case: Case, dlq_validator) -> None:
    result = process_and_check(proc, case.raw, dlq_validator)
    if case.indexed is True:
        assert isinstance(result, IndexRequest), f"a valid item was dead-lettered: {result.reason}: {result.error}"
    if case.indexed is False:
        assert isinstance(result, DeadLetter), "an invalid input was indexed"
    if isinstance(result, DeadLetter):
        assert not case.reasons or result.reason in case.reasons, (result.reason, result.error)
        if result.reason == "schema" and case.item_id is not None:
            assert result.item_id == case.item_id
    elif case.item_id is not None:
        assert_article_as_expected(result, case)


def assert_article_as_expected(request: IndexRequest, case: Case) -> None:
    article = request.docs[0][2]
    assert request.item_id == article["id"] == case.item_id
    for key, value in case.expected.items():
        assert article[key] == value, key
    notes = article["repairs"]
    assert len(notes) == case.repair_notes, notes
    for key in FIELDS:
        said = any(note.startswith(f"{key}:") for note in notes)
        assert said == (key in case.repaired_fields), (key, notes)


STRUCTURE_STRATEGIES = {  # name: (strategy, opt-in fuzz examples)
    "valid_items": (VALID_ITEMS, 2500),
    "almost_items": (almost_items(), 2500),
    "other_json": (other_json(), 1000),
}
BYTE_STRATEGIES = {
    "random_bytes": (st.builds(lambda raw: Case(raw, None), RANDOM_BYTES), 1500),
    "truncated_items": (truncated_items(), 1000),
    "mutated_items": (mutated_items(), 1500),
    "misencoded_items": (misencoded_items(), 1000),
    "deep_nesting": (deep_nesting(), 500),
}
EXAMPLES = {
    "deep_nesting": [Case(b"[" * 50_000 + b"]" * 50_000, False, frozenset({"bad_json"})),
                     Case(b"[" * 50_000, False, frozenset({"bad_json"}))],
    "other_json": [Case(b"[" * 900 + b"]" * 900, False, frozenset({"schema", "bad_json"}))],
}
assert sum(n for _, n in [*STRUCTURE_STRATEGIES.values(), *BYTE_STRATEGIES.values()]) >= 10_000


def _params():
    for name, (strategy, fuzz_examples) in {**STRUCTURE_STRATEGIES, **BYTE_STRATEGIES}.items():
        for mode in modes(fuzz_examples):
            yield pytest.param(name, strategy, *mode.values, id=f"{name}-{mode.id}", marks=mode.marks)


@pytest.mark.parametrize("name, strategy, mode", list(_params()))
def test_every_input_gives_an_index_request_or_a_dead_letter(name, strategy, mode, processor, dlq_validator):
    ran = run_property(mode, strategy, lambda case: check_case(processor, case, dlq_validator),
                       EXAMPLES.get(name, ()))
    assert ran > 0


OVERSIZED = st.one_of(
    st.binary(min_size=SMALL_MAX_BYTES + 1, max_size=3 * SMALL_MAX_BYTES),
    st.builds(lambda case, pad: case.raw + b" " * max(0, SMALL_MAX_BYTES + 1 - len(case.raw)) + b" " * pad,
              VALID_ITEMS, st.integers(0, 64)),
)


@pytest.mark.parametrize("mode", modes(500))
def test_oversized_messages_are_dead_lettered_as_too_large(mode, small_processor, dlq_validator):
    def check(raw: bytes) -> None:
        result = process_and_check(small_processor, raw, dlq_validator)
        assert isinstance(result, DeadLetter) and result.reason == ("empty" if not raw.strip() else "too_large")

    assert run_property(mode, OVERSIZED, check) > 0


def test_fifty_thousand_nested_brackets_are_dead_lettered_as_bad_json(processor, dlq_validator):
    raw = b"[" * 50_000 + b"]" * 50_000
    letter = process_and_check(processor, raw, dlq_validator)
    assert isinstance(letter, DeadLetter) and letter.reason == "bad_json" and "deep" in letter.error


def test_a_lone_surrogate_escape_in_the_text_is_repaired_and_indexed(processor, dlq_validator):
    raw = (b'{"id": "s-1", "url": "u", "title": "t\\ud800", "text": "The army shelled Aleppo \\udfff.",'
           b' "published_at": null, "source": "s"}')
    request = process_and_check(processor, raw, dlq_validator)
    article = request.docs[0][2]
    assert article["title"] == "t\ufffd" and "\ufffd" in article["text"]
    assert sorted(article["repairs"]) == ["text: 1 lone surrogate replaced", "title: 1 lone surrogate replaced"]


def test_a_repair_note_never_carries_the_lone_surrogate_of_its_key(processor, dlq_validator):
    # an extra top-level field whose key and value both hold a lone surrogate: the note names the key
    raw = (b'{"id": "k-1", "url": "u", "title": "t", "text": "Troops massed at the border.", "published_at": null,'
           b' "source": "s", "\\ud800key": "v\\udc00"}')
    request = process_and_check(processor, raw, dlq_validator)
    assert request.docs[0][2]["repairs"] == ["\ufffdkey: 1 lone surrogate replaced"]


@pytest.mark.parametrize("text", ["غارات" + "8" * 320 + "المسلحين", "The army sent " + "9" * 400 + " troops to the border."])
def test_a_number_too_big_for_a_float_gives_no_infinite_quantity(text, processor, dlq_validator):
    # Found by this suite: float() of a number over 308 digits is inf, which strict JSON (and
    # OpenSearch: "Non-standard token 'Infinity'") refuses, so the whole article is rejected.
    raw = json.dumps({"id": "q-1", "url": "u", "title": "t", "text": text, "published_at": None,
                      "source": "s"}, ensure_ascii=False).encode()
    request = process_and_check(processor, raw, dlq_validator)  # serialized() checks every document
    assert isinstance(request, IndexRequest) and len(request.docs) > 1, "the event must still be tagged"


def test_an_id_that_ends_in_a_newline_is_refused(processor, dlq_validator):
    # jsonschema matches `pattern` with Python's re, where `$` also matches before a final newline
    raw = json.dumps({"id": "abc\n", "url": "u", "title": "t", "text": "x", "published_at": None,
                      "source": "s"}).encode()
    result = process_and_check(processor, raw, dlq_validator)
    assert isinstance(result, DeadLetter) and result.reason == "schema"
