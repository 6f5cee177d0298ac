"""The pure parts of `newswatch replay` and `newswatch backfill`: reading and checking input files,
offsets and times, planning a rewind, counting progress and dead letters; and the lag table."""
from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from newswatch.connectors.metrics import PartitionLag
from newswatch.pipelines import ops_plan
from newswatch.pipelines.ops_plan import (DeadLetterTally, InputItem, OpsInputError, PartitionState, PartitionWork, Problem,
                                backfill_work, parse_offset_spec, parse_time, pipeline_check, plan_from_offsets,
                                plan_from_time, read_items, rewinds)

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
HEADER = "id,url,title,text,published_at,source,language\n"
CHECK = pipeline_check(1_000_000)


def item(i: int, **fields) -> dict:
    return {"id": f"it-{i}", "url": f"https://news.example.invalid/{i}", "title": f"title {i}",
            "text": f"Troops advanced on the town, item {i}.", "published_at": "2026-11-25T08:00:00Z",
            "source": "tests", **fields}


def entries(path) -> list:
    return list(read_items(path, CHECK))


# ---- CSV ------------------------------------------------------------------------------------------

def test_csv_rows_become_news_items_that_the_pipeline_accepts(tmp_path):
    path = tmp_path / "items.csv"
    path.write_text("\ufeff" + HEADER  # a byte-order mark, as spreadsheet programs write
                    + 'a-1,https://x.invalid/1,One,"Shelling hit the town, officials said.",2026-11-25T08:00:00Z,wire,en\n'
                    + 'a-2,https://x.invalid/2,Two,"A ""ceasefire""\nheld overnight.",,wire,\n'
                    + "\n", encoding="utf-8")
    first, second = entries(path)
    assert isinstance(first, InputItem) and isinstance(second, InputItem)
    assert (first.item_id, first.origin) == ("a-1", f"{path}:2")
    assert second.origin == f"{path}:3"
    assert json.loads(first.value)["language"] == "en"
    two = json.loads(second.value)
    assert two["published_at"] is None and "language" not in two  # empty cells: null / left out
    assert two["text"] == 'A "ceasefire"\nheld overnight.'


def test_csv_header_problems_name_the_columns(tmp_path):
    missing = tmp_path / "missing.csv"
    missing.write_text("id,url,title,published_at,source\nx,u,t,,s\n", encoding="utf-8")
    [problem] = entries(missing)
    assert isinstance(problem, Problem) and problem.origin == f"{missing}:1"
    assert "lacks column(s) text" in problem.error and "id,url,title,text,published_at,source" in problem.error

    typo = tmp_path / "typo.csv"
    typo.write_text("id,url,title,text,publised_at,source\n", encoding="utf-8")
    [problem] = entries(typo)
    assert "lacks column(s) published_at" in problem.error and "unknown column(s) 'publised_at'" in problem.error

    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    assert "the file is empty" in entries(empty)[0].error


def test_csv_row_problems_say_the_line_and_what_to_do(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text(HEADER
                    + "b-1,https://x.invalid/1,T,Shelling hit the town, officials said,2026-11-25T08:00:00Z,wire,en\n"
                    + "b-2,https://x.invalid/2,T,Tanks moved north.,yesterday,wire,\n"
                    + "b 3,https://x.invalid/3,T,Tanks moved north.,,wire,\n"
                    + "b-4,https://x.invalid/4,T,   ,,wire,\n", encoding="utf-8")
    problems = entries(path)
    assert all(isinstance(p, Problem) for p in problems)
    assert [p.origin for p in problems] == [f"{path}:{n}" for n in (2, 3, 4, 5)]
    assert "8 field(s), the header has 7" in problems[0].error and "quote fields" in problems[0].error
    assert "published_at" in problems[1].error and "yesterday" in problems[1].error
    assert "schema violation at id" in problems[2].error
    assert "schema violation at text" in problems[3].error


def test_csv_that_is_not_utf8_is_refused_with_the_fix(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(HEADER.encode() + "c-1,u,Café,Texte,,src,\n".encode("latin-1"))
    problems = [e for e in entries(path) if isinstance(e, Problem)]
    assert problems and "not UTF-8" in problems[-1].error and "save the CSV file as UTF-8" in problems[-1].error


# ---- JSONL ----------------------------------------------------------------------------------------

def test_jsonl_lines_are_checked_as_the_pipeline_checks_them(tmp_path):
    path = tmp_path / "items.jsonl"
    lines = [json.dumps(item(1)), "", "{not json", json.dumps({"id": "no-url", "text": "x"}),
             json.dumps(item(5, published_at="soon")), json.dumps(item(6)) + "\r"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    got = entries(path)
    assert [type(e).__name__ for e in got] == ["InputItem", "Problem", "Problem", "Problem", "InputItem"]
    good, bad_json, schema, date, last = got
    assert good.value == json.dumps(item(1)).encode() and good.item_id == "it-1"  # sent byte for byte
    assert bad_json.origin == f"{path}:3" and "not valid JSON" in bad_json.error
    assert schema.origin == f"{path}:4" and "schema violation" in schema.error
    assert date.origin == f"{path}:5" and "published_at" in date.error
    assert last.value == json.dumps(item(6)).encode()  # CRLF line ends stripped


def test_items_over_the_size_limit_are_refused_before_sending(tmp_path):
    path = tmp_path / "big.jsonl"
    path.write_text(json.dumps(item(1, text="x" * 2000)) + "\n", encoding="utf-8")
    [problem] = read_items(path, pipeline_check(1000))
    assert "pipeline.max_item_bytes" in problem.error


def test_files_must_exist_and_say_their_format(tmp_path):
    with pytest.raises(OpsInputError, match="no such file"):
        ops_plan.check_files([str(tmp_path / "missing.jsonl")])
    other = tmp_path / "items.txt"
    other.write_text("x", encoding="utf-8")
    with pytest.raises(OpsInputError, match=r"\.jsonl files .*\.csv files"):
        ops_plan.check_files([str(other)])


def test_problems_are_listed_with_the_way_out():
    problems = [Problem(f"f.csv:{n}", "bad") for n in range(2, 15)]
    text = ops_plan.format_problems(problems, valid=7)
    assert text.startswith("13 item(s) cannot be sent, nothing was sent")
    assert "f.csv:2: bad" in text and "f.csv:12" not in text and "… and 3 more" in text
    assert "--skip-invalid to send the 7 valid item(s)" in text


# ---- offsets and times ----------------------------------------------------------------------------

def test_offset_specs():
    assert parse_offset_spec("0:1200") == (0, 1200)
    assert parse_offset_spec(" 2:0 ") == (2, 0)
    for bad in ("1200", "a:1", "1:-5", "-1:3", "1:2:3", ""):
        with pytest.raises(OpsInputError, match="PARTITION:OFFSET"):
            parse_offset_spec(bad)


def test_times_are_iso_or_back_from_now():
    assert parse_time("2h", NOW) == datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    assert parse_time("2026-11-25T08:30:00", NOW) == datetime(2026, 11, 25, 8, 30, tzinfo=UTC)
    assert parse_time("2026-11-25T10:30:00+02:00", NOW) == datetime(2026, 11, 25, 8, 30, tzinfo=UTC)
    with pytest.raises(OpsInputError, match="not a time"):
        parse_time("yesterday", NOW)
    with pytest.raises(OpsInputError, match="in the future"):
        parse_time("2027-01-01", NOW)


STATES = [PartitionState(0, begin=0, end=100, committed=100), PartitionState(1, begin=10, end=50, committed=40),
          PartitionState(2, begin=0, end=30, committed=None)]


def test_a_time_rewinds_each_partition_but_never_forward():
    work = plan_from_time(STATES, {0: 60, 1: 45, 2: None})
    assert [(w.partition, w.start, w.end) for w in work] == [(0, 60, 100), (1, 40, 50), (2, 0, 30)]
    assert rewinds(STATES, work) == {0: 60}  # 1 stays at 40 (45 would skip 40-44); 2 starts at its beginning


def test_an_offset_rewinds_one_partition_with_clear_refusals():
    [work] = plan_from_offsets(STATES, {0: 10}, "news")
    assert (work.start, work.end, work.total) == (10, 100, 90)
    assert rewinds(STATES, [work]) == {0: 10}
    for wanted, message in (({5: 0}, "has no partition 5; its partitions are 0, 1, 2"),
                            ({1: 3}, "no longer in Kafka .* the earliest there is 10"),
                            ({0: 101}, "past the end of partition 0"),
                            ({1: 45}, "ahead of where the consumer group is \\(40\\)")):
        with pytest.raises(OpsInputError, match=message):
            plan_from_offsets(STATES, wanted, "news")


# ---- progress ---------------------------------------------------------------------------------------

def test_progress_of_a_range_and_of_a_backfill_among_other_messages():
    replay = PartitionWork(0, 10, 20)
    assert [replay.done(c) for c in (0, 10, 15, 20, 99)] == [0, 0, 5, 10, 10]
    [p0, p1] = backfill_work([(1, 7), (0, 3), (0, 9), (0, 5)])
    assert (p0.partition, p0.offsets, p0.total, p1.offsets) == (0, (3, 5, 9), 3, (7,))
    assert [p0.done(c) for c in (3, 4, 6, 9, 10)] == [0, 1, 2, 2, 3]  # offset 4, 6-8 are someone else's
    assert p0.holds(5) and not p0.holds(4) and replay.holds(19) and not replay.holds(20)


def test_dead_letters_count_once_per_source_and_only_when_processed():
    tally = DeadLetterTally("news", [PartitionWork(0, 10, 20), PartitionWork(1, 0, 0, (4, 8))])
    for partition, offset in ((0, 12), (0, 12), (0, 18), (0, 25), (1, 8), (1, 5)):
        tally.add({"reason": "schema", "source": {"topic": "news", "partition": partition, "offset": offset}})
    tally.add({"reason": "schema", "source": {"topic": "other", "partition": 0, "offset": 13}})
    tally.add({"reason": "schema"})
    assert tally.count({0: 15, 1: 0}) == 1   # 0@12 (written twice); 0@18 not yet reached
    assert tally.count({0: 20, 1: 9}) == 3   # + 0@18, 1@8; 0@25 and 1@5 are not in the work


# ---- lag --------------------------------------------------------------------------------------------

def test_lag_table():
    rows = [PartitionLag(0, 90, 0, 100), PartitionLag(1, None, 5, 8)]
    assert rows[0].lag == 10 and rows[1].lag == 3
    lines = ops_plan.format_lag(rows, "news", "newswatch").splitlines()
    assert lines[0] == "consumer lag of group newswatch on news:"
    assert lines[2].split() == ["0", "90", "100", "10"] and lines[3].split() == ["1", "-", "8", "3"]
    assert lines[4].split() == ["total", "13"]
    assert "does not exist yet" in ops_plan.format_lag([], "news", "newswatch")
