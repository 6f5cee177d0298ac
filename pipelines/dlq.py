"""`newswatch dlq list|replay`: the dead letters on the DLQ topic, filtered, shown with what to do
about each reason, and sent back to the news topic once the user has fixed the cause.

The selection and formatting are pure functions over dead-letter records (dicts shaped as
schemas/dlq_record.schema.json); only `read_letters`, `require_topic` and `send_messages` talk to Kafka."""
from __future__ import annotations

import argparse
import base64
import binascii
import json
import shutil
import sys
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from .durations import has_unit, parse_duration
from .model import DEAD_LETTER_REASONS

if TYPE_CHECKING:  # annotations only: the CLI imports this module, and settings load pydantic
    from .settings import KafkaSettings, Settings

# Reasons whose letters cannot be replayed, and why.
NOT_REPLAYABLE: dict[str, str] = {
    "corrupt_batch": "Kafka could not read those messages (CRC mismatch), so their original bytes are lost; "
                     "send the items of that offset range again from their source",
    "empty": "the message was empty: there is nothing to send again; fix the producer",
}
# Reasons decided by the bytes alone: a replay fails again unless newswatch itself changed.
FAILS_AGAIN_UNCHANGED = ("bad_utf8", "bad_json", "schema")

SINCE_HELP = "an ISO time (2026-11-25T08:00:00Z; no zone means UTC) or a time back from now: 30m, 1h, 2d"
READ_STALL_S = 30  # no new message for this long while the end offset is not reached: give up


class DlqInputError(ValueError):
    """A mistake the user can fix (unknown reason, bad time, missing topic); the CLI prints it."""


@dataclass(frozen=True)
class Letter:
    """One message of the DLQ topic: the dead-letter record and where it sits on the DLQ."""
    record: dict
    dlq_offset: int


# ---- pure: parsing the user's filters ---------------------------------------------------------

def check_reason(reason: str | None) -> str | None:
    if reason is not None and reason not in DEAD_LETTER_REASONS:
        raise DlqInputError(f"unknown dead-letter reason {reason!r}; use one of: {', '.join(DEAD_LETTER_REASONS)}")
    return reason


def _as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_since(text: str | None, now: datetime) -> datetime | None:
    """`--since`: an ISO time, or a relative "30m" / "1h" / "2d" back from `now`."""
    if text is None:
        return None
    if has_unit(text):
        return _as_utc(now) - timedelta(seconds=parse_duration(text))
    try:
        return _as_utc(datetime.fromisoformat(text.strip()))
    except ValueError:
        raise DlqInputError(f"--since {text!r} is not a time: give {SINCE_HELP}") from None


def failed_at(record: dict) -> datetime | None:
    try:
        return _as_utc(datetime.fromisoformat(record["failed_at"]))
    except (KeyError, TypeError, ValueError):
        return None


def matches(record: dict, reason: str | None, since: datetime | None) -> bool:
    """A letter without a readable failed_at never matches --since: it cannot be shown to be recent."""
    if reason is not None and record.get("reason") != reason:
        return False
    if since is None:
        return True
    when = failed_at(record)
    return when is not None and when >= since


def select(letters: Iterable[Letter], reason: str | None, since: datetime | None) -> list[Letter]:
    return [letter for letter in letters if matches(letter.record, reason, since)]


def latest_per_source(letters: Iterable[Letter]) -> list[Letter]:
    """One letter per source message, its latest: the pipeline may write a letter again for the same
    message (a restart before its offset was committed, a `run --from-beginning`), and listing or
    replaying it twice would count or send it twice. A message that `dlq replay` sent back has new
    coordinates, so a second failure of it is a letter of its own."""
    latest: dict[object, Letter] = {}
    for letter in letters:
        src = letter.record.get("source")
        coordinates = (src.get("topic"), src.get("partition"), src.get("offset")) if isinstance(src, dict) else None
        key = coordinates if coordinates and None not in coordinates else ("dlq", letter.dlq_offset)
        latest.pop(key, None)
        latest[key] = letter
    return sorted(latest.values(), key=lambda letter: letter.dlq_offset)


def decode_letter(value: bytes | None) -> dict | None:
    """The dead-letter record in a DLQ message, or None when the message is not one."""
    try:
        record = json.loads(value or b"")
    except (ValueError, RecursionError):
        return None
    if not isinstance(record, dict) or not isinstance(record.get("reason"), str):
        return None
    return record


def original_bytes(record: dict) -> bytes:
    try:
        return base64.b64decode(record["original_b64"], validate=True)
    except (KeyError, TypeError, binascii.Error):
        raise DlqInputError(f"the dead letter of {source_label(record)} has no readable original_b64; "
                            "it cannot be replayed (was it written by newswatch?)") from None


# ---- pure: formatting --------------------------------------------------------------------------

def shorten(text: object, width: int) -> str:
    """One line of at most `width` characters: an error message in a table cell."""
    flat = " ".join(str(text or "").split())
    return flat if len(flat) <= width else flat[: max(width - 1, 0)] + "…"


def source_label(record: dict) -> str:
    """topic:partition@offset, with the last offset of a skipped range (corrupt_batch)."""
    src = record.get("source") or {}
    label = f"{src.get('topic', '?')}:{src.get('partition', '?')}@{src.get('offset', '?')}"
    if src.get("offset_end") is not None:
        label += f"-{src['offset_end']}"
    return label


def format_table(records: list[dict], width: int) -> str:
    """failed_at, reason, source, item id, error (cut to what the terminal width leaves)."""
    rows = [(str(r.get("failed_at") or "-"), str(r.get("reason")), source_label(r), str(r.get("item_id") or "-"))
            for r in records]
    header = ("failed_at", "reason", "source", "item_id")
    widths = [max([len(header[i])] + [len(row[i]) for row in rows]) for i in range(4)]
    error_width = max(width - sum(widths) - 2 * 4, 30)

    def line(cells: tuple[str, ...], error: str) -> str:
        return "  ".join(cell.ljust(w) for cell, w in zip(cells, widths, strict=True)) + "  " + error

    lines = [line(header, "error")]
    lines += [line(row, shorten(r.get("error"), error_width)) for row, r in zip(rows, records, strict=True)]
    return "\n".join(lines)


def reason_counts(records: list[dict]) -> Counter:
    return Counter(str(r.get("reason")) for r in records)


def format_summary(records: list[dict]) -> str:
    """The count per reason, then what to do about each reason present."""
    counts = reason_counts(records)
    if not counts:
        return "no dead letters match"
    per_reason = ", ".join(f"{reason} {n}" for reason, n in counts.most_common())
    width = max(len(reason) for reason in counts)
    unknown = "unknown reason: not written by this version of newswatch"
    actions = [f"  {reason.ljust(width)}  {DEAD_LETTER_REASONS.get(reason, unknown)}" for reason in sorted(counts)]
    return "\n".join([f"{len(records)} dead letter(s): {per_reason}", "what to do:", *actions])


def to_json_line(record: dict) -> str:
    return json.dumps(record, ensure_ascii=False)


# ---- pure: what a replay sends -----------------------------------------------------------------

def split_replayable(letters: list[Letter]) -> tuple[list[Letter], Counter]:
    """(letters whose originals can be sent again, count of the others per reason)."""
    refused = Counter(letter.record["reason"] for letter in letters if letter.record["reason"] in NOT_REPLAYABLE)
    return [letter for letter in letters if letter.record["reason"] not in NOT_REPLAYABLE], refused


@dataclass(frozen=True)
class Message:
    """What a replay sends: the original value, and where it was first read (for errors). Sent
    without a key: dead letters do not record the original message's key."""
    value: bytes
    origin: str


def replay_messages(letters: list[Letter]) -> list[Message]:
    """All decoded before anything is sent, so a bad letter stops the replay before it starts."""
    return [Message(original_bytes(letter.record), source_label(letter.record)) for letter in letters]


def refuse_unreplayable_reason(reason: str | None) -> None:
    if reason in NOT_REPLAYABLE:
        raise DlqInputError(f"letters of reason {reason!r} cannot be replayed: {NOT_REPLAYABLE[reason]}")


def iso_second(moment: datetime) -> str:
    return _as_utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---- Kafka: the thin part -----------------------------------------------------------------------

def _kafka_errors() -> tuple[type[Exception], ...]:
    from kafka.errors import KafkaError

    return (KafkaError,)


def _partitions(consumer, topic: str) -> list[int]:
    return sorted(consumer.partitions_for_topic(topic) or ())


def read_letters(kafka_settings: KafkaSettings) -> tuple[list[Letter], list[int]]:
    """Every message of the DLQ topic from its beginning to its end as of now (no consumer group,
    nothing committed): (the dead letters, DLQ offsets of messages that are not dead letters)."""
    from kafka import TopicPartition

    from newswatch.connectors import kafka

    topic = kafka_settings.dlq_topic
    consumer = kafka.new_consumer(kafka_settings, enable_auto_commit=False, allow_auto_create_topics=False)
    try:
        parts = _partitions(consumer, topic)
        if not parts:
            raise DlqInputError(f"the dead-letter topic {topic!r} does not exist on {kafka_settings.bootstrap}: "
                                "nothing was ever dead-lettered there. Check kafka.dlq_topic and kafka.bootstrap "
                                "(newswatch creates the topic on `newswatch run` and `newswatch demo`)")
        tps = [TopicPartition(topic, p) for p in parts]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        return _drain(consumer, consumer.end_offsets(tps))
    finally:
        consumer.close()


def _drain(consumer, ends: dict) -> tuple[list[Letter], list[int]]:
    import time

    letters: list[Letter] = []
    not_letters: list[int] = []
    pending = {tp for tp, end in ends.items() if consumer.position(tp) < end}
    last_progress = time.monotonic()
    while pending:
        for tp, messages in consumer.poll(timeout_ms=500).items():
            last_progress = time.monotonic()
            for msg in messages:
                if msg.offset >= ends[tp]:
                    continue  # written after we started: not part of this listing
                record = decode_letter(msg.value)
                if record is None:
                    not_letters.append(msg.offset)
                else:
                    letters.append(Letter(record, msg.offset))
        pending = {tp for tp in pending if consumer.position(tp) < ends[tp]}
        if pending and time.monotonic() - last_progress > READ_STALL_S:
            raise DlqInputError(f"reading the dead-letter topic stalled for {READ_STALL_S}s before its end; "
                                "check that the Kafka broker is up (`newswatch stack status`) and try again")
    return letters, not_letters


def require_topic(kafka_settings: KafkaSettings, topic: str) -> None:
    """Without this check a send to a missing topic blocks for a minute, then fails obscurely."""
    from newswatch.connectors import kafka

    consumer = kafka.new_consumer(kafka_settings, allow_auto_create_topics=False)
    try:
        if not _partitions(consumer, topic):
            raise DlqInputError(f"the news topic {topic!r} does not exist on {kafka_settings.bootstrap}; check "
                                "kafka.topic, or create it by starting the pipeline (`newswatch run`)")
    finally:
        consumer.close()


def send_messages(kafka_settings: KafkaSettings, messages: list[Message],
                  on_done: Callable[[], None]) -> tuple[int, list[str]]:
    """Send each message to the news topic (acks=all), calling `on_done` as the broker answers for
    each. Returns (how many it acknowledged, why the others were not sent)."""
    import threading

    from newswatch.connectors import kafka

    answers: list[str | None] = []  # None: acknowledged; else why not
    lock = threading.Lock()

    def answered(origin: str, error: Exception | None = None) -> None:  # runs on the producer's I/O thread
        with lock:
            answers.append(None if error is None else f"{origin}: {error}")
        on_done()

    producer = kafka.producer(kafka_settings)
    try:
        for m in messages:
            try:
                future = producer.send(kafka_settings.topic, value=m.value)
            except _kafka_errors() as err:  # refused before sending: too big, no metadata
                answered(m.origin, err)
                continue
            future.add_callback(lambda _meta, origin=m.origin: answered(origin))
            future.add_errback(lambda err, origin=m.origin: answered(origin, err))
        producer.flush()
    finally:
        producer.close()
    errors = [a for a in answers if a is not None]
    return len(answers) - len(errors), errors


# ---- the commands -------------------------------------------------------------------------------

def _load(args: argparse.Namespace) -> tuple[Settings, list[Letter], datetime]:
    """Settings, the letters matching --reason/--since, and when the DLQ was read."""
    from .settings import load_settings

    reason = check_reason(args.reason)
    read_at = datetime.now(UTC)
    since = parse_since(args.since, read_at)
    settings = load_settings()
    letters, not_letters = read_letters(settings.kafka)
    if not_letters:
        print(f"newswatch: skipped {len(not_letters)} message(s) on {settings.kafka.dlq_topic} that are not dead-letter "
              f"records (offsets {', '.join(map(str, not_letters[:10]))}{' …' if len(not_letters) > 10 else ''})",
              file=sys.stderr)
    return settings, select(latest_per_source(letters), reason, since), read_at


def cmd_list(args: argparse.Namespace) -> int:
    settings, letters, _ = _load(args)
    records = [letter.record for letter in letters]
    if args.json:
        for record in records:
            print(to_json_line(record))
        return 0
    if not records:
        print(f"no dead letters on {settings.kafka.dlq_topic}" + (" match" if args.reason or args.since else ""))
        return 0
    print(format_table(records, shutil.get_terminal_size((160, 24)).columns))
    print()
    print(format_summary(records))
    return 0


def _confirm(count: int, topic: str, reasons: Counter, assume_yes: bool) -> bool:
    if assume_yes:
        return True
    what = ", ".join(f"{reason} {n}" for reason, n in reasons.most_common())
    if not sys.stdin.isatty():
        raise DlqInputError(f"replay would send {count} message(s) ({what}) to {topic}; add --yes to do it "
                            "without a question")
    answer = input(f"send {count} original message(s) ({what}) back to {topic}? Fix their cause first. [y/N] ")
    return answer.strip().lower() in ("y", "yes")


def _progress(total: int):
    from tqdm import tqdm

    return tqdm(total=total, unit="msg", desc="replay", file=sys.stderr, disable=None)


def cmd_replay(args: argparse.Namespace) -> int:
    refuse_unreplayable_reason(check_reason(args.reason))
    settings, letters, read_at = _load(args)
    to_send, refused = split_replayable(letters)
    for reason, n in sorted(refused.items()):
        print(f"newswatch: not replaying {n} letter(s) of reason {reason}: {NOT_REPLAYABLE[reason]}", file=sys.stderr)
    if not to_send:
        print("nothing to replay")
        return 0
    reasons = Counter(letter.record["reason"] for letter in to_send)
    unchanged = ", ".join(f"{reason} {reasons[reason]}" for reason in FAILS_AGAIN_UNCHANGED if reasons[reason])
    if unchanged:
        print(f"newswatch: note: letters of reasons decided by their bytes alone ({unchanged}) are sent byte for "
              "byte and will be dead-lettered again unless newswatch itself changed; their fix belongs at the producer",
              file=sys.stderr)
    messages = replay_messages(to_send)
    require_topic(settings.kafka, settings.kafka.topic)
    if not _confirm(len(messages), settings.kafka.topic, reasons, args.yes):
        print("nothing sent")
        return 1
    with _progress(len(messages)) as bar:
        sent, errors = send_messages(settings.kafka, messages, lambda: bar.update(1))
    print(f"sent {sent} of {len(messages)} message(s) to {settings.kafka.topic}")
    if errors:
        for error in errors[:10]:
            print(f"newswatch: not sent: {error}", file=sys.stderr)
        print(f"newswatch: {len(errors)} message(s) were not sent; run the same command again once Kafka is healthy "
              "(sending some twice is harmless: documents are keyed by item id)", file=sys.stderr)
        return 1
    print(f"they also stay on {settings.kafka.dlq_topic} (Kafka is append-only); to leave them out next time, "
          f"add --since {iso_second(read_at)}")
    return 0


def _kafka_failure(err: Exception) -> str:
    from .settings import load_settings

    bootstrap = load_settings().kafka.bootstrap
    return (f"Kafka at {bootstrap} failed ({err}); start the broker (`newswatch stack up`) "
            "or set kafka.bootstrap, then try again")


def _with_user_errors(command: Callable[[argparse.Namespace], int], user_error: type[Exception]):
    """Turn DlqInputError and Kafka failures into the CLI's own error type, which `newswatch` prints
    as `newswatch: ...` with exit code 2."""
    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except DlqInputError as err:
            raise user_error(str(err)) from None
        except _kafka_errors() as err:
            raise user_error(_kafka_failure(err)) from None
    return run


def add_commands(subparsers, user_error: type[Exception]) -> None:
    """`newswatch dlq list|replay`. `user_error` is the CLI's UserError, passed in rather than
    imported: under `python -m newswatch.pipelines.cli` that module is __main__, and an import here would load
    a second copy whose UserError the CLI does not catch."""
    dlq = subparsers.add_parser("dlq", help="list the dead letters, or send their originals back to the news topic",
                                description="Dead letters on kafka.dlq_topic. Reasons and what to do about each: "
                                            "see `newswatch dlq list` or the README.")
    actions = dlq.add_subparsers(dest="dlq_command", required=True)

    def filters(p: argparse.ArgumentParser) -> None:
        p.add_argument("--reason", help=f"only this reason: {', '.join(DEAD_LETTER_REASONS)}")
        p.add_argument("--since", help=f"only letters that failed at or after this time: {SINCE_HELP}")

    p = actions.add_parser("list", help="a table of the dead letters with a count and what to do per reason")
    filters(p)
    p.add_argument("--json", action="store_true",
                   help="one dead-letter record per line (schemas/dlq_record.schema.json, original_b64 included)")
    p.set_defaults(func=_with_user_errors(cmd_list, user_error))

    p = actions.add_parser("replay", help="send the original messages back to the news topic, once the cause is fixed",
                           description="Sends each matching letter's original bytes to kafka.topic (without "
                                       "a key: letters do not record it). Letters stay on the dead-letter "
                                       "topic (Kafka is append-only): use --since with the time the previous "
                                       "replay printed to avoid replaying twice (twice is harmless for the "
                                       "indices: documents are keyed by item id).")
    filters(p)
    p.add_argument("--yes", action="store_true", help="do not ask before sending")
    p.set_defaults(func=_with_user_errors(cmd_replay, user_error))
