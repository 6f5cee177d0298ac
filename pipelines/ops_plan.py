"""The pure parts of `newswatch replay` and `newswatch backfill` (pipelines/ops.py): reading and
checking input files, parsing offsets and times, planning a rewind, counting progress and dead
letters. No Kafka here: they are tested without servers."""
from __future__ import annotations

import bisect
import csv
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from .durations import has_unit, parse_duration

REQUIRED_COLUMNS = ("id", "url", "title", "text", "published_at", "source")
OPTIONAL_COLUMNS = ("language",)
CSV_FORMAT = f"a header row {','.join(REQUIRED_COLUMNS)}[,{','.join(OPTIONAL_COLUMNS)}], then one item per row"
JSONL_FORMAT = "one JSON news item per line (schemas/news_item.schema.json)"
JSONL_SUFFIXES = (".jsonl", ".ndjson")
TIME_HELP = "an ISO time (2026-11-25T08:00:00Z; no zone means UTC) or a time back from now: 30m, 2h, 1d"
MAX_PROBLEMS_SHOWN = 10
csv.field_size_limit(64 * 1024 * 1024)  # article texts are far over csv's default of 128 KiB


class OpsInputError(ValueError):
    """A mistake the user can fix; the CLI prints it as `newswatch: ...` with exit code 2."""


# ---- pure: reading and checking input files ------------------------------------------------------

@dataclass(frozen=True)
class InputItem:
    """One message to send, and where it came from (for messages)."""
    value: bytes
    origin: str          # FILE:LINE
    item_id: str | None  # the Kafka key: versions of one item stay in one partition, in order


@dataclass(frozen=True)
class Problem:
    origin: str
    error: str

    def __str__(self) -> str:
        return f"{self.origin}: {self.error}"


Check = Callable[[bytes], tuple[str | None, str | None]]  # message -> (item id, error or None)


def pipeline_check(max_bytes: int) -> Check:
    """Checks a message with the pipeline's own parse step, so that what backfill accepts is
    what the pipeline accepts, and its errors are the ones the dead letters would carry."""
    from .model import DeadLetter, KafkaRecord
    from .parsing import news_item_validator, parse_item

    validator = news_item_validator()

    def check(value: bytes) -> tuple[str | None, str | None]:
        result = parse_item(KafkaRecord("backfill", 0, 0, -1, 0, None, value), validator, max_bytes)
        if isinstance(result, DeadLetter):
            return result.item_id, result.error
        return result.doc_id, None
    return check


def file_kind(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in JSONL_SUFFIXES:
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    raise OpsInputError(f"{path}: backfill reads .jsonl files ({JSONL_FORMAT}) and .csv files ({CSV_FORMAT}); "
                        "rename the file to say which it is")


def check_files(paths: Iterable[str]) -> list[Path]:
    files = [Path(p) for p in paths]
    for path in files:
        if not path.is_file():
            raise OpsInputError(f"no such file: {path}. Give .jsonl or .csv files of news items")
        file_kind(path)
    return files


def read_items(path: Path, check: Check) -> Iterator[InputItem | Problem]:
    """The file's items, each checked, or the problems that keep them from being sent."""
    yield from (_jsonl_items if file_kind(path) == "jsonl" else _csv_items)(path, check)


def _checked(value: bytes, origin: str, check: Check) -> InputItem | Problem:
    item_id, error = check(value)
    return Problem(origin, error) if error else InputItem(value, origin, item_id)


def _jsonl_items(path: Path, check: Check) -> Iterator[InputItem | Problem]:
    with path.open("rb") as lines:
        for number, line in enumerate(lines, 1):
            value = line.rstrip(b"\r\n")
            if value.strip():
                yield _checked(value, f"{path}:{number}", check)


def _csv_items(path: Path, check: Check) -> Iterator[InputItem | Problem]:
    """Rows as JSON news items: an empty published_at is null, an empty language is left out."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as text:
            rows = csv.reader(text)
            header = next(rows, None)
            header_problem = csv_header_problem(header)
            if header_problem:
                yield Problem(f"{path}:1", header_problem)
                return
            start = rows.line_num + 1
            for row in rows:
                origin = f"{path}:{start}"
                start = rows.line_num + 1
                if any(cell.strip() for cell in row):
                    item = csv_row_item(header, row)
                    yield Problem(origin, item) if isinstance(item, str) else _checked(
                        json.dumps(item, ensure_ascii=False).encode("utf-8"), origin, check)
    except UnicodeDecodeError as err:
        yield Problem(str(path), f"not UTF-8 text (byte {err.start}): save the CSV file as UTF-8")
    except csv.Error as err:
        yield Problem(str(path), f"not readable as CSV ({err}): {CSV_FORMAT}; quote fields that hold commas, "
                                 "quotes or line breaks")


def csv_header_problem(header: list[str] | None) -> str | None:
    if not header:
        return f"the file is empty; a CSV file needs {CSV_FORMAT}"
    names = [name.strip() for name in header]
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    unknown = [n for n in names if n not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
    doubled = sorted({n for n in names if names.count(n) > 1})
    if missing or unknown or doubled:
        parts = ([f"lacks column(s) {', '.join(missing)}"] if missing else []) + \
                ([f"has unknown column(s) {', '.join(repr(n) for n in unknown)}"] if unknown else []) + \
                ([f"names {', '.join(doubled)} twice"] if doubled else [])
        return f"the header {' and '.join(parts)}; it must be {CSV_FORMAT}"
    return None


def csv_row_item(header: list[str], row: list[str]) -> dict | str:
    """The news item of one CSV row, or what is wrong with the row."""
    if len(row) != len(header):
        return (f"{len(row)} field(s), the header has {len(header)}: quote fields that hold commas, quotes or "
                'line breaks ("like, this")')
    item: dict = {}
    for name, value in zip((h.strip() for h in header), row, strict=True):
        if name == "published_at" and not value.strip():
            item[name] = None
        elif name == "language" and not value.strip():
            continue
        else:
            item[name] = value
    return item


def format_problems(problems: list[Problem], valid: int) -> str:
    shown = "\n  ".join(str(p) for p in problems[:MAX_PROBLEMS_SHOWN])
    more = f"\n  … and {len(problems) - MAX_PROBLEMS_SHOWN} more" if len(problems) > MAX_PROBLEMS_SHOWN else ""
    return (f"{len(problems)} item(s) cannot be sent, nothing was sent:\n  {shown}{more}\nFix them, or add "
            f"--skip-invalid to send the {valid} valid item(s) only")


# ---- pure: offsets, times and what to process -----------------------------------------------------

def parse_offset_spec(text: str) -> tuple[int, int]:
    """`--from-offset PARTITION:OFFSET`."""
    partition, sep, offset = text.strip().partition(":")
    try:
        p, o = int(partition), int(offset)
    except ValueError:
        p = o = -1
    if not sep or p < 0 or o < 0:
        raise OpsInputError(f"--from-offset {text!r} is not PARTITION:OFFSET with two whole numbers ≥ 0 "
                            "(e.g. 0:1200); `newswatch stack status` shows the partitions and offsets")
    return p, o


def parse_time(text: str, now: datetime) -> datetime:
    """`--from-time`: an ISO time (no zone: UTC) or a duration back from now."""
    if has_unit(text):
        moment = now - timedelta(seconds=parse_duration(text))
    else:
        try:
            moment = datetime.fromisoformat(text.strip())
        except ValueError:
            raise OpsInputError(f"--from-time {text!r} is not a time: give {TIME_HELP}") from None
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    if moment > now:
        raise OpsInputError(f"--from-time {text!r} is in the future ({moment:%Y-%m-%dT%H:%M:%SZ}): nothing was "
                            f"produced after it yet. Give {TIME_HELP}")
    return moment


@dataclass(frozen=True)
class PartitionState:
    """One partition of the news topic as Kafka sees it for the consumer group."""
    partition: int
    begin: int
    end: int
    committed: int | None  # None: the group never committed here

    @property
    def resume(self) -> int:
        """Where the pipeline goes on from: its committed offset, or the first message."""
        return self.begin if self.committed is None else max(self.committed, self.begin)


@dataclass(frozen=True)
class PartitionWork:
    """The offsets of one partition to be processed: all of [start, end), or only `offsets`
    (a backfill's own messages, among others that other producers may have sent)."""
    partition: int
    start: int
    end: int
    offsets: tuple[int, ...] | None = None

    @property
    def total(self) -> int:
        return len(self.offsets) if self.offsets is not None else self.end - self.start

    def done(self, committed: int) -> int:
        """How many of them are processed when the group's committed offset is `committed`."""
        if self.offsets is not None:
            return bisect.bisect_left(self.offsets, committed)
        return min(max(committed - self.start, 0), self.total)

    def holds(self, offset: int) -> bool:
        if self.offsets is not None:
            i = bisect.bisect_left(self.offsets, offset)
            return i < len(self.offsets) and self.offsets[i] == offset
        return self.start <= offset < self.end


def backfill_work(sent: Iterable[tuple[int, int]]) -> list[PartitionWork]:
    """The work of messages sent at (partition, offset)."""
    by_partition: dict[int, list[int]] = {}
    for partition, offset in sent:
        by_partition.setdefault(partition, []).append(offset)
    return [PartitionWork(p, min(offs), max(offs) + 1, tuple(sorted(offs))) for p, offs in sorted(by_partition.items())]


def plan_from_time(states: list[PartitionState], at_time: dict[int, int | None]) -> list[PartitionWork]:
    """Per partition, from the first message at or after the time (None: there is none) to the end.
    Never forward of where the group is: that would skip items not processed yet."""
    return [PartitionWork(s.partition, min(s.end if at_time.get(s.partition) is None else at_time[s.partition],
                                           s.resume), s.end) for s in states]


def plan_from_offsets(states: list[PartitionState], wanted: dict[int, int], topic: str) -> list[PartitionWork]:
    by_partition = {s.partition: s for s in states}
    work = []
    for partition, offset in sorted(wanted.items()):
        s = by_partition.get(partition)
        if s is None:
            raise OpsInputError(f"topic {topic!r} has no partition {partition}; its partitions are "
                                f"{', '.join(map(str, sorted(by_partition)))}")
        if offset < s.begin:
            raise OpsInputError(f"offset {offset} of partition {partition} is no longer in Kafka (retention deleted "
                                f"it); the earliest there is {s.begin}")
        if offset > s.end:
            raise OpsInputError(f"offset {offset} is past the end of partition {partition} ({s.end}): there is "
                                "nothing there to replay")
        if offset > s.resume:
            raise OpsInputError(f"offset {offset} of partition {partition} is ahead of where the consumer group is "
                                f"({s.resume}): replay only rewinds; moving the group forward would skip items not "
                                f"processed yet. Give an offset up to {s.resume}")
        work.append(PartitionWork(partition, offset, s.end))
    return work


def rewinds(states: list[PartitionState], work: list[PartitionWork]) -> dict[int, int]:
    """The commits that make the group start over at each work's start."""
    by_partition = {s.partition: s for s in states}
    return {w.partition: w.start for w in work if w.start < by_partition[w.partition].resume}


class DeadLetterTally:
    """Dead letters whose source is among the offsets being processed, counted once per source
    (a letter may be written again after a crash) and only once its offset is committed, so that
    a replay does not count the letters of the earlier pass before it gets there."""

    def __init__(self, topic: str, work: list[PartitionWork]) -> None:
        self.topic = topic
        self.work = {w.partition: w for w in work}
        self.sources: dict[int, set[int]] = {p: set() for p in self.work}

    def add(self, letter: dict) -> None:
        src = letter.get("source")
        if not isinstance(src, dict) or src.get("topic") != self.topic:
            return
        partition, offset = src.get("partition"), src.get("offset")
        if isinstance(offset, int) and partition in self.work and self.work[partition].holds(offset):
            self.sources[partition].add(offset)

    def count(self, committed: dict[int, int]) -> int:
        return sum(1 for p, offsets in self.sources.items() for o in offsets if o < committed.get(p, 0))


# ---- pure: what the commands print --------------------------------------------------------------

def describe_plan(states: list[PartitionState], work: list[PartitionWork]) -> list[str]:
    by_partition = {s.partition: s for s in states}
    return [f"partition {w.partition}: from offset {w.start} (the group is at {by_partition[w.partition].resume}) "
            f"to {w.end}: {w.total} item(s)" for w in work]


def format_lag(rows, topic: str, group: str) -> str:
    """A table of connectors.metrics.PartitionLag rows."""
    if not rows:
        return f"consumer lag: topic {topic!r} does not exist yet (`newswatch run` or `demo` creates it)"
    lines = [f"consumer lag of group {group} on {topic}:",
             f"{'partition':>10}{'committed':>12}{'end':>12}{'lag':>10}"]
    lines += [f"{r.partition:>10}{'-' if r.committed is None else r.committed:>12}{r.end:>12}{r.lag:>10}" for r in rows]
    lines.append(f"{'total':>10}{'':>12}{'':>12}{sum(r.lag for r in rows):>10}")
    return "\n".join(lines)
