"""`newswatch dlq`: selecting, formatting and preparing dead letters for a replay, without servers
(tests/integration/test_dlq_cli.py runs the commands against a real broker and pipeline)."""
import base64
import json
from datetime import UTC, datetime, timedelta

import jsonschema
import pytest

from newswatch.pipelines import dlq
from newswatch.pipelines.cli import main
from newswatch.pipelines.dlq import DlqInputError, Letter
from newswatch.pipelines.model import DEAD_LETTER_REASONS, DeadLetter, KafkaRecord
from newswatch.pipelines.nlp.resources import SCHEMA_DIR

NOW = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)


def letter_record(reason="schema", at="2026-11-25T11:30:00Z", offset=4, item_id="a-1",
                  error="the item has no 'url'", original=b'{"id": "a-1"}', **source_extra) -> dict:
    return {"reason": reason, "error": error, "stage": "validate",
            "source": {"topic": "news", "partition": 1, "offset": offset, **source_extra},
            "item_id": item_id, "original_b64": base64.b64encode(original).decode(), "failed_at": at,
            "action": DEAD_LETTER_REASONS[reason]}


def letter(record: dict, dlq_offset: int = 0) -> Letter:
    return Letter(record, dlq_offset)


# ---- filters ------------------------------------------------------------------------------------

def test_a_known_reason_passes_and_an_unknown_one_names_every_valid_reason():
    assert dlq.check_reason("too_large") == "too_large"
    assert dlq.check_reason(None) is None
    with pytest.raises(DlqInputError) as err:
        dlq.check_reason("toolarge")
    assert all(reason in str(err.value) for reason in DEAD_LETTER_REASONS)


@pytest.mark.parametrize("text, back", [("30m", timedelta(minutes=30)), ("1h", timedelta(hours=1)),
                                        ("2d", timedelta(days=2)), ("90s", timedelta(seconds=90)),
                                        ("1w", timedelta(weeks=1)), (" 3 h ", timedelta(hours=3))])
def test_relative_since_counts_back_from_now(text, back):
    assert dlq.parse_since(text, NOW) == NOW - back


@pytest.mark.parametrize("text, expected", [
    ("2026-11-25T08:00:00Z", datetime(2026, 11, 25, 8, tzinfo=UTC)),
    ("2026-11-25T10:00:00+02:00", datetime(2026, 11, 25, 8, tzinfo=UTC)),
    ("2026-11-25 08:00", datetime(2026, 11, 25, 8, tzinfo=UTC)),  # no zone: UTC
    ("2026-11-25", datetime(2026, 11, 25, tzinfo=UTC)),
])
def test_iso_since_is_read_as_utc(text, expected):
    assert dlq.parse_since(text, NOW) == expected


@pytest.mark.parametrize("text", ["yesterday", "1y", "-1h", "", "2026-13-01"])
def test_a_since_that_is_no_time_says_what_to_give(text):
    with pytest.raises(DlqInputError, match="30m, 1h, 2d"):
        dlq.parse_since(text, NOW)


def test_no_since_means_no_time_filter():
    assert dlq.parse_since(None, NOW) is None


def test_select_filters_by_reason_and_by_failed_at_inclusive():
    old = letter(letter_record("schema", at="2026-11-25T10:00:00Z"))
    edge = letter(letter_record("too_large", at="2026-11-25T11:00:00Z"))
    new = letter(letter_record("schema", at="2026-11-25T11:59:00Z"))
    undated = letter({k: v for k, v in letter_record("schema").items() if k != "failed_at"})
    every = [old, edge, new, undated]
    since = dlq.parse_since("1h", NOW)
    assert dlq.select(every, None, None) == every
    assert dlq.select(every, "schema", None) == [old, new, undated]
    assert dlq.select(every, None, since) == [edge, new]  # an undated letter cannot be shown to be recent
    assert dlq.select(every, "schema", since) == [new]
    assert dlq.select(every, "poison", None) == []


def test_a_message_dead_lettered_twice_is_listed_once_as_its_latest_letter():
    first = letter(letter_record("processing_error", at="2026-11-25T10:00:00Z", offset=4), dlq_offset=0)
    other = letter(letter_record("schema", offset=5), dlq_offset=1)
    again = letter(letter_record("processing_error", at="2026-11-25T11:00:00Z", offset=4), dlq_offset=2)
    other_partition = letter({**letter_record("schema", offset=4), "source": {"topic": "news", "partition": 0,
                                                                              "offset": 4}}, dlq_offset=3)
    sourceless = [letter({"reason": "poison"}, dlq_offset=4), letter({"reason": "poison"}, dlq_offset=5)]
    assert dlq.latest_per_source([first, other, again, other_partition, *sourceless]) == [
        other, again, other_partition, *sourceless]


def test_failed_at_that_cannot_be_read_is_none():
    assert dlq.failed_at({"failed_at": "2026-11-25T11:30:00Z"}) == datetime(2026, 11, 25, 11, 30, tzinfo=UTC)
    assert dlq.failed_at({"failed_at": "soon"}) is None
    assert dlq.failed_at({"failed_at": None}) is None
    assert dlq.failed_at({}) is None


# ---- reading ------------------------------------------------------------------------------------

def test_a_letter_the_pipeline_writes_is_decoded_and_follows_the_schema():
    record = KafkaRecord("news", 2, 41, 40, 1_700_000_000_000, b"key-1", b"\xff not utf-8")
    decoded = dlq.decode_letter(DeadLetter("bad_utf8", "re-encode it", "validate", record).to_json())
    schema = json.loads((SCHEMA_DIR / "dlq_record.schema.json").read_text(encoding="utf-8"))
    jsonschema.validate(decoded, schema)
    assert decoded["reason"] == "bad_utf8"
    assert dlq.original_bytes(decoded) == b"\xff not utf-8"
    assert dlq.source_label(decoded) == "news:2@41"
    assert dlq.failed_at(decoded) is not None


@pytest.mark.parametrize("value", [b"", None, b"{not json", b"[1, 2]", b'{"error": "no reason"}',
                                   b'{"reason": 3}', b"[" * 50_000 + b"]" * 50_000])
def test_a_message_that_is_no_dead_letter_is_not_taken_for_one(value):
    assert dlq.decode_letter(value) is None


def test_an_original_that_is_not_base64_stops_the_replay_with_where_it_came_from():
    with pytest.raises(DlqInputError, match="news:1@4"):
        dlq.original_bytes({**letter_record(), "original_b64": "not base64!"})
    with pytest.raises(DlqInputError):
        dlq.original_bytes({k: v for k, v in letter_record().items() if k != "original_b64"})


# ---- formatting ---------------------------------------------------------------------------------

def test_shorten_keeps_one_line_within_the_width():
    assert dlq.shorten("a  b\nc", 20) == "a b c"
    cut = dlq.shorten("word " * 40, 25)
    assert len(cut) == 25 and cut.endswith("…") and "\n" not in cut
    assert dlq.shorten(None, 10) == ""


def test_source_label_shows_the_skipped_range_of_a_corrupt_batch():
    assert dlq.source_label(letter_record()) == "news:1@4"
    assert dlq.source_label(letter_record("corrupt_batch", offset=10, offset_end=19)) == "news:1@10-19"
    assert dlq.source_label({"reason": "schema"}) == "?:?@?"


def test_the_table_has_one_row_per_letter_with_its_error_cut_to_the_terminal():
    records = [letter_record("schema", item_id="a-1", error="the item misses 'url'. " * 20),
               letter_record("too_large", offset=12, item_id=None, error="the message has 2000 bytes")]
    lines = dlq.format_table(records, width=120).splitlines()
    assert lines[0].split() == ["failed_at", "reason", "source", "item_id", "error"]
    assert len(lines) == 3
    assert all(len(line) <= 120 for line in lines)
    assert "schema" in lines[1] and "news:1@4" in lines[1] and "a-1" in lines[1] and lines[1].endswith("…")
    assert "too_large" in lines[2] and "news:1@12" in lines[2] and lines[2].endswith("the message has 2000 bytes")
    # columns line up: every row's reason starts where the header's does
    assert {line.index(word) for line, word in zip(lines, ["reason", "schema", "too_large"], strict=True)} == {
        lines[0].index("reason")}


def test_a_narrow_terminal_still_shows_part_of_each_error():
    line = dlq.format_table([letter_record(error="x" * 200)], width=40).splitlines()[1]
    assert "x" * 29 + "…" in line


def test_the_summary_counts_each_reason_and_says_what_to_do_about_those_present():
    records = [letter_record("schema"), letter_record("too_large"), letter_record("schema")]
    summary = dlq.format_summary(records)
    assert summary.splitlines()[0] == "3 dead letter(s): schema 2, too_large 1"
    assert DEAD_LETTER_REASONS["schema"] in summary and DEAD_LETTER_REASONS["too_large"] in summary
    assert DEAD_LETTER_REASONS["poison"] not in summary
    assert dlq.reason_counts(records) == {"schema": 2, "too_large": 1}
    assert dlq.format_summary([]) == "no dead letters match"


def test_json_lines_hold_the_whole_record():
    record = letter_record("bad_json", original=b"{nope")
    line = dlq.to_json_line(record)
    assert "\n" not in line and json.loads(line) == record


# ---- replay -------------------------------------------------------------------------------------

def test_letters_whose_original_is_lost_or_empty_are_not_replayed():
    keep = [letter(letter_record("too_large")), letter(letter_record("index_rejected"))]
    lost = [letter(letter_record("corrupt_batch", original=b"")), letter(letter_record("empty", original=b"")),
            letter(letter_record("corrupt_batch", original=b""))]
    to_send, refused = dlq.split_replayable([lost[0], keep[0], lost[1], keep[1], lost[2]])
    assert to_send == keep
    assert refused == {"corrupt_batch": 2, "empty": 1}


def test_asking_to_replay_corrupt_batches_says_their_bytes_are_lost():
    with pytest.raises(DlqInputError, match="lost"):
        dlq.refuse_unreplayable_reason("corrupt_batch")
    dlq.refuse_unreplayable_reason("too_large")
    dlq.refuse_unreplayable_reason(None)
    assert set(dlq.NOT_REPLAYABLE) <= set(DEAD_LETTER_REASONS)


def test_a_replay_sends_the_original_bytes():
    letters = [letter(letter_record("too_large", original="نص طويل".encode())),
               letter(letter_record("processing_error", offset=9, original=b'{"id": "b"}'))]
    messages = dlq.replay_messages(letters)
    assert [(m.value, m.origin) for m in messages] == [("نص طويل".encode(), "news:1@4"), (b'{"id": "b"}', "news:1@9")]


def test_the_next_since_is_printed_to_the_second_in_utc():
    moment = datetime(2026, 11, 25, 14, 30, 15, 999_000, tzinfo=UTC)
    assert dlq.iso_second(moment) == "2026-11-25T14:30:15Z"
    assert dlq.parse_since(dlq.iso_second(moment), NOW) == moment.replace(microsecond=0)


# ---- the command line, for mistakes caught before Kafka is asked anything ---------------------------

def test_an_unknown_reason_is_a_user_error(capsys):
    assert main(["dlq", "list", "--reason", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("newswatch: unknown dead-letter reason 'nope'") and "too_large" in err


def test_a_bad_since_is_a_user_error(capsys):
    assert main(["dlq", "replay", "--since", "last week", "--yes"]) == 2
    assert capsys.readouterr().err.startswith("newswatch: --since 'last week' is not a time")


def test_replaying_corrupt_batches_is_refused(capsys):
    assert main(["dlq", "replay", "--reason", "corrupt_batch", "--yes"]) == 2
    assert "original bytes are lost" in capsys.readouterr().err
