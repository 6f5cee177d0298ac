"""`newswatch replay` and `newswatch backfill`: push items through the same pipeline again (a
rewind of the consumer group) or for the first time (from JSONL or CSV files), then follow them
to the end with a progress bar: items/s, ETA and dead letters so far.

Progress is read from Kafka alone: the group's committed offsets advancing to the target offsets
(a record's offset is committed only once it is indexed or dead-lettered), and the dead-letter
topic, whose letters name their source offset. The pure parts are in ops_plan.py.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from .dlq import decode_letter
from .ops_plan import (CSV_FORMAT, JSONL_FORMAT, MAX_PROBLEMS_SHOWN, TIME_HELP, Check, DeadLetterTally, InputItem,
                       OpsInputError, PartitionState, PartitionWork, Problem, backfill_work, check_files,
                       describe_plan, format_lag, format_problems, parse_offset_spec, parse_time, pipeline_check,
                       plan_from_offsets, plan_from_time, read_items, rewinds)

if TYPE_CHECKING:  # annotations only: the CLI imports this module before any settings are read
    from .settings import KafkaSettings, Settings

FOLLOW_POLL_S = 0.5
STALL_NOTICE_S = 60.0   # no progress this long without --run: remind the user that a pipeline must run
STOP_GRACE_S = 60.0     # what `--run` gives the pipeline to stop after SIGTERM before it is killed


# ---- Kafka -------------------------------------------------------------------------------------

def _group_consumer(s: KafkaSettings):
    from newswatch.connectors import kafka

    return kafka.new_consumer(s, group_id=s.group_id, enable_auto_commit=False, allow_auto_create_topics=False)


def _topic_partitions(consumer, s: KafkaSettings) -> list:
    from kafka import TopicPartition

    parts = sorted(consumer.partitions_for_topic(s.topic) or ())
    if not parts:
        raise OpsInputError(f"the news topic {s.topic!r} does not exist on {s.bootstrap}; check kafka.topic and "
                            "kafka.bootstrap (newswatch creates it on `newswatch run`, `demo` and `backfill`)")
    return [TopicPartition(s.topic, p) for p in parts]


def partition_states(consumer, s: KafkaSettings) -> list[PartitionState]:
    tps = _topic_partitions(consumer, s)
    begin, end = consumer.beginning_offsets(tps), consumer.end_offsets(tps)
    return [PartitionState(tp.partition, begin[tp], end[tp], consumer.committed(tp)) for tp in tps]


def offsets_at(consumer, s: KafkaSettings, moment: datetime) -> dict[int, int | None]:
    """Per partition, the first offset whose message timestamp is at or after the moment."""
    millis = int(moment.timestamp() * 1000)
    found = consumer.offsets_for_times({tp: millis for tp in _topic_partitions(consumer, s)})
    return {tp.partition: (None if hit is None else hit.offset) for tp, hit in found.items()}


def committed_now(consumer, s: KafkaSettings, work: list[PartitionWork]) -> dict[int, int]:
    from kafka import TopicPartition

    return {w.partition: consumer.committed(TopicPartition(s.topic, w.partition)) or 0 for w in work}


def send_items(s: KafkaSettings, items: Iterable[InputItem],
               on_sent: Callable[[], None]) -> tuple[list[tuple[int, int]], list[str]]:
    """Send to the news topic (acks=all), keyed by item id. Returns ((partition, offset) of each
    message Kafka acknowledged, why the others were not sent)."""
    from kafka.errors import KafkaError

    from newswatch.connectors import kafka

    producer = kafka.producer(s)
    pending, errors = [], []
    try:
        for item in items:
            try:
                future = producer.send(s.topic, value=item.value, key=item.item_id.encode() if item.item_id else None)
            except KafkaError as err:
                errors.append(f"{item.origin}: {err}")
                continue
            future.add_callback(lambda _meta: on_sent())
            pending.append((item, future))
        producer.flush()
        sent = []
        for item, future in pending:
            try:
                meta = future.get(timeout=60)
                sent.append((meta.partition, meta.offset))
            except KafkaError as err:
                errors.append(f"{item.origin}: {err}")
        return sent, errors
    finally:
        producer.close()


def dead_letter_ends(s: KafkaSettings) -> dict[int, int]:
    """The dead-letter topic's end offsets now: a backfill reads the letters written after them."""
    from kafka import TopicPartition

    from newswatch.connectors import kafka

    consumer = kafka.new_consumer(s, enable_auto_commit=False, allow_auto_create_topics=False)
    try:
        tps = [TopicPartition(s.dlq_topic, p) for p in sorted(consumer.partitions_for_topic(s.dlq_topic) or ())]
        return {tp.partition: offset for tp, offset in consumer.end_offsets(tps).items()} if tps else {}
    finally:
        consumer.close()


class DeadLetterTail:
    """Reads the dead-letter topic as it grows, from `start` offsets per partition (a backfill:
    only letters written after its messages were sent can be theirs) or, with None, from the
    beginning (a replay: the pipeline does not write again the letters of an earlier pass that
    it finds there). Never in a consumer group."""

    def __init__(self, s: KafkaSettings, start: dict[int, int] | None) -> None:
        from kafka import TopicPartition

        from newswatch.connectors import kafka

        self.consumer = kafka.new_consumer(s, enable_auto_commit=False, allow_auto_create_topics=False)
        tps = [TopicPartition(s.dlq_topic, p) for p in sorted(self.consumer.partitions_for_topic(s.dlq_topic) or ())]
        self.consumer.assign(tps)
        for tp in tps:
            if start is None:
                self.consumer.seek_to_beginning(tp)
            else:
                self.consumer.seek(tp, start.get(tp.partition, 0))

    def letters(self) -> list[dict]:
        if not self.consumer.assignment():
            return []
        found = []
        for messages in self.consumer.poll(timeout_ms=50, max_records=10_000).values():
            found.extend(record for record in map(decode_letter, (m.value for m in messages)) if record)
        return found

    def close(self) -> None:
        self.consumer.close()


def running_pipeline(s: Settings) -> str | None:
    """Where a newswatch worker of this topic and group answers with its metrics on this
    machine, or None. A running pipeline keeps reading from where it is and commits over a
    rewind, so replay must not rewind under it; pipelines elsewhere, or without metrics, cannot
    be seen from here."""
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    if not s.pipeline.metrics_port:
        return None
    where = f"127.0.0.1:{s.pipeline.metrics_port}"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never through a proxy
    try:
        with opener.open(f"http://{where}/metrics", timeout=2) as response:
            text = response.read().decode("utf-8", errors="replace")
        families = list(text_string_to_metric_families(text))
    except (OSError, ValueError):
        return None
    for family in families:
        for sample in family.samples:
            if (sample.name == "newswatch_pipeline_info" and sample.labels.get("topic") == s.kafka.topic
                    and sample.labels.get("group_id") == s.kafka.group_id):
                return where
    return None


class PipelineChild:
    """`newswatch run` started by `--run`, in its own session; its output goes to a log file."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        fd, name = tempfile.mkstemp(prefix="newswatch-run-", suffix=".log")
        os.close(fd)
        self.log = Path(name)
        self.proc: subprocess.Popen | None = None

    def start(self) -> PipelineChild:
        from .settings import as_environment

        with self.log.open("ab") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", f"{__package__}.cli", "run"],
                                         env=as_environment(self.settings), stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        return self

    def exited(self) -> int | None:
        return self.proc.poll() if self.proc else None

    def stop(self) -> None:
        """SIGTERM: the supervisor stops its worker and leaves; past the grace time, the whole group dies."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def log_tail(self, chars: int = 2000) -> str:
        return self.log.read_text(errors="replace")[-chars:]


# ---- following the work to its end -------------------------------------------------------------

@dataclass
class Followed:
    total: int
    done: int = 0
    dead_letters: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        rate = self.done / self.seconds if self.seconds > 0 else 0.0
        line = f"processed {self.done} of {self.total} item(s) in {self.seconds:.1f} s ({rate:.0f} items/s)"
        if self.dead_letters:
            line += f"; {self.dead_letters} dead-lettered: see `newswatch dlq list`"
        return line


@dataclass
class Follow:
    """Where to look and what to expect."""
    settings: Settings
    work: list[PartitionWork]
    label: str
    dlq_start: dict[int, int] | None  # see DeadLetterTail
    child: PipelineChild | None = None
    timeout_s: float | None = None
    result: Followed = field(init=False)
    last_notice: float = field(init=False, default=0.0)

    def __post_init__(self) -> None:
        self.result = Followed(total=sum(w.total for w in self.work))


def follow(f: Follow) -> Followed:
    """Watch the group's committed offsets reach the end of the work, with a progress bar."""
    from tqdm import tqdm

    s = f.settings.kafka
    if f.child is None:
        print(f"newswatch: following consumer group {s.group_id} on {s.topic}: a running `newswatch run` processes "
              "the items (start one, or use --run). Ctrl-C stops following, not the processing", file=sys.stderr)
    consumer = _group_consumer(s)
    tail = DeadLetterTail(s, f.dlq_start)
    tally = DeadLetterTally(s.topic, f.work)
    started = last_progress = time.monotonic()
    try:
        with tqdm(total=f.result.total, unit="item", desc=f.label, file=sys.stderr, disable=None) as bar:
            while True:
                for letter in tail.letters():
                    tally.add(letter)
                committed = committed_now(consumer, s, f.work)
                done = sum(w.done(committed[w.partition]) for w in f.work)
                if done > f.result.done:
                    last_progress = time.monotonic()
                f.result.done, f.result.dead_letters = done, tally.count(committed)
                f.result.seconds = time.monotonic() - started
                bar.set_postfix_str(f"dead letters {f.result.dead_letters}", refresh=False)
                bar.update(done - bar.n)
                if done >= f.result.total:
                    return f.result
                _check_still_going(f, bar, last_progress)
                time.sleep(FOLLOW_POLL_S)
    finally:
        tail.close()
        consumer.close()


def _check_still_going(f: Follow, bar, last_progress: float) -> None:
    if f.child is not None and f.child.exited() is not None:
        raise OpsInputError(f"the pipeline started by --run exited (code {f.child.exited()}) after "
                            f"{f.result.done} of {f.result.total} item(s); its log ({f.child.log}) ends:\n"
                            f"{f.child.log_tail()}")
    if f.timeout_s is not None and f.result.seconds > f.timeout_s:
        raise OpsInputError(f"{f.result.done} of {f.result.total} item(s) processed after --timeout {f.timeout_s:.0f} s; "
                            "the rest is processed whenever `newswatch run` runs (`newswatch stack status` shows "
                            "the lag)")
    now = time.monotonic()
    idle = now - last_progress
    if f.child is None and idle > STALL_NOTICE_S and now - f.last_notice > STALL_NOTICE_S:
        f.last_notice = now
        bar.write(f"newswatch: no progress for {idle:.0f} s: is `newswatch run` running for consumer group "
                  f"{f.settings.kafka.group_id}? (or stop this and add --run)", file=sys.stderr)


def follow_to_the_end(f: Follow) -> int:
    """Start the pipeline if asked, follow, stop the pipeline, say how it went."""
    if f.child is not None:
        print(f"newswatch: starting `newswatch run` (log: {f.child.log})", file=sys.stderr)
        f.child.start()
    try:
        result = follow(f)
    except KeyboardInterrupt:
        what = "stopping the pipeline started by --run" if f.child else "stopped following"
        print(f"\nnewswatch: {what} ({f.result.done} of {f.result.total} processed); a running or the next "
              "`newswatch run` processes the rest", file=sys.stderr)
        return 130
    finally:
        if f.child is not None:
            f.child.stop()
    print(result.summary())
    return 0


# ---- the commands ------------------------------------------------------------------------------

def _refuse_if_running(settings: Settings, why: str) -> None:
    where = running_pipeline(settings)
    if where:
        raise OpsInputError(f"a newswatch pipeline of consumer group {settings.kafka.group_id} on "
                            f"{settings.kafka.topic} is running (its metrics answer on {where}): {why}")


def _check_follow_args(args: argparse.Namespace) -> None:
    if args.run and args.no_wait:
        raise OpsInputError("--run and --no-wait contradict each other: --run waits for the items to be processed")


def _bar(total: int, label: str):
    from tqdm import tqdm

    return tqdm(total=total, unit="item", desc=label, file=sys.stderr, disable=None)


def _scan(files: list[Path], check: Check) -> tuple[int, list[Problem]]:
    """First pass: count the valid items and collect the problems (nothing kept in memory)."""
    valid, problems = 0, []
    for path in files:
        for entry in read_items(path, check):
            if isinstance(entry, Problem):
                problems.append(entry)
            else:
                valid += 1
    return valid, problems


def _valid_items(files: list[Path], skip: set[str]) -> Iterator[InputItem]:
    """Second pass: the items again, checked already, so not parsed again."""
    for path in files:
        for entry in read_items(path, lambda value: (_item_id(value), None)):
            if isinstance(entry, InputItem) and entry.origin not in skip:
                yield entry


def _item_id(value: bytes) -> str | None:
    try:
        item_id = json.loads(value).get("id")
    except (ValueError, AttributeError, RecursionError):
        return None
    return item_id if isinstance(item_id, str) else None


def cmd_backfill(args: argparse.Namespace) -> int:
    from newswatch.connectors import kafka

    from .settings import load_settings

    _check_follow_args(args)
    files = check_files(args.files)
    settings = load_settings()
    valid, problems = _scan(files, pipeline_check(settings.pipeline.max_item_bytes))
    if problems and not args.skip_invalid:
        raise OpsInputError(format_problems(problems, valid))
    if not valid:
        raise OpsInputError(f"no item to send in {', '.join(map(str, files))}: .jsonl files hold {JSONL_FORMAT}, "
                            f".csv files {CSV_FORMAT}")
    if problems:
        print(f"newswatch: leaving out {len(problems)} invalid item(s) (--skip-invalid), e.g. {problems[0]}",
              file=sys.stderr)
    if args.run:
        _refuse_if_running(settings, "drop --run, and it processes the backfill")
    kafka.ensure_topics(settings.kafka)
    dlq_start = dead_letter_ends(settings.kafka)
    with _bar(valid, "send") as bar:
        sent, errors = send_items(settings.kafka, _valid_items(files, {p.origin for p in problems}),
                                  lambda: bar.update(1))
    print(f"sent {len(sent)} item(s) from {len(files)} file(s) to {settings.kafka.topic}")
    for error in errors[:MAX_PROBLEMS_SHOWN]:
        print(f"newswatch: not sent: {error}", file=sys.stderr)
    if errors:
        print(f"newswatch: {len(errors)} item(s) were not sent; run the same backfill again once Kafka is healthy "
              "(sending an item twice is harmless: documents are keyed by item id)", file=sys.stderr)
    if args.no_wait or not sent:
        return 1 if errors else 0
    follow_rc = follow_to_the_end(Follow(settings, backfill_work(sent), "backfill", dlq_start,
                                         child=PipelineChild(settings) if args.run else None, timeout_s=args.timeout))
    return follow_rc or (1 if errors else 0)


def _plan_replay(args: argparse.Namespace, settings: Settings) -> tuple[list[PartitionState], list[PartitionWork]]:
    consumer = _group_consumer(settings.kafka)
    try:
        states = partition_states(consumer, settings.kafka)
        if args.from_time is not None:
            at = offsets_at(consumer, settings.kafka, parse_time(args.from_time, datetime.now(UTC)))
            return states, plan_from_time(states, at)
        wanted = dict(parse_offset_spec(spec) for spec in args.from_offset)
        return states, plan_from_offsets(states, wanted, settings.kafka.topic)
    finally:
        consumer.close()




def _confirm(question: str, assume_yes: bool) -> bool:
    if assume_yes:
        return True
    if not sys.stdin.isatty():
        raise OpsInputError(f"{question}: add --yes to do it without a question")
    return input(f"{question}? [y/N] ").strip().lower() in ("y", "yes")


def cmd_replay(args: argparse.Namespace) -> int:
    from newswatch.connectors import kafka

    from .settings import load_settings

    _check_follow_args(args)
    settings = load_settings()
    s = settings.kafka
    _refuse_if_running(settings, "it keeps reading from where it is and would commit over the rewind. Stop it "
                                 "(Ctrl-C on `newswatch run`), then run this again; add --run to start a pipeline "
                                 "that stops when the replay is done")
    states, work = _plan_replay(args, settings)
    work = [w for w in work if w.total > 0]
    if not work:
        print(f"nothing to replay: no message of {s.topic} in that range")
        return 0
    total = sum(w.total for w in work)
    print("\n".join(describe_plan(states, work)))
    if not _confirm(f"rewind consumer group {s.group_id} on {s.topic}: {total} item(s) to process (documents and "
                    "alerts keep their ids: they are overwritten, not doubled)", args.yes):
        print("nothing changed")
        return 1
    consumer = _group_consumer(s)
    try:
        for partition, offset in rewinds(states, work).items():
            kafka.commit(s, s.topic, partition, offset, consumer=consumer)
    finally:
        consumer.close()
    print(f"rewound consumer group {s.group_id}: {total} item(s) to process")
    if args.no_wait:
        print("the next `newswatch run` processes them")
        return 0
    return follow_to_the_end(Follow(settings, work, "replay", dlq_start=None,
                                    child=PipelineChild(settings) if args.run else None, timeout_s=args.timeout))


def _kafka_errors() -> tuple[type[Exception], ...]:
    from kafka.errors import KafkaError

    return (KafkaError,)


def _with_user_errors(command: Callable[[argparse.Namespace], int], user_error: type[Exception]):
    """OpsInputError and Kafka failures become the CLI's UserError (`newswatch: ...`, exit 2)."""
    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except OpsInputError as err:
            raise user_error(str(err)) from None
        except _kafka_errors() as err:
            raise user_error(f"Kafka failed ({err}); check that the broker is up (`newswatch stack status`) and "
                             "kafka.bootstrap, then try again") from None
    return run


def _follow_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--run", action="store_true",
                   help="start `newswatch run` for the duration (by default a running pipeline processes the items)")
    p.add_argument("--no-wait", action="store_true", help="do not follow the processing; return at once")
    p.add_argument("--timeout", type=float, help="stop following after this many seconds (exit 2)")


def add_commands(subparsers, user_error: type[Exception]) -> None:
    """`newswatch replay` and `newswatch backfill`. `user_error` is the CLI's UserError (see
    pipelines/dlq.py add_commands for why it is passed in)."""
    p = subparsers.add_parser(
        "replay", help="rewind the consumer group so that the pipeline processes a time or offset range again",
        description="Rewinds kafka.group_id on kafka.topic, then follows the pipeline through the range with a "
                    "progress bar (items/s, ETA, dead letters so far). Ids are deterministic: documents and alerts "
                    "are overwritten. Stop a running `newswatch run` first (it would commit over the rewind), or "
                    "let --run start one for the replay.")
    start = p.add_mutually_exclusive_group(required=True)
    start.add_argument("--from-time", metavar="T", help=f"every partition from its first message at or after T: {TIME_HELP}")
    start.add_argument("--from-offset", metavar="P:O", action="append",
                       help="partition P from offset O (repeat for more partitions)")
    p.add_argument("--yes", action="store_true", help="do not ask before rewinding")
    _follow_options(p)
    p.set_defaults(func=_with_user_errors(cmd_replay, user_error))

    p = subparsers.add_parser(
        "backfill", help="send news items from JSONL or CSV files to the news topic and follow their processing",
        description=f"Checks every item as the pipeline will (nothing is sent if one is invalid, unless "
                    f"--skip-invalid), sends them to kafka.topic keyed by item id, then follows the pipeline through "
                    f"them with a progress bar. FILE.jsonl: {JSONL_FORMAT}. FILE.csv: {CSV_FORMAT}.")
    p.add_argument("files", nargs="+", metavar="FILE", help="FILE.jsonl or FILE.csv")
    p.add_argument("--skip-invalid", action="store_true", help="send the valid items, leave out the others")
    _follow_options(p)
    p.set_defaults(func=_with_user_errors(cmd_backfill, user_error))


# ---- `newswatch stack status`: consumer lag ------------------------------------------------------


def consumer_lag_report(settings: Settings) -> str:
    """What `stack status` prints about lag; a Kafka that cannot be read is said, not raised."""
    from newswatch.connectors.metrics import read_lag

    s = settings.kafka
    try:
        return format_lag(read_lag(s), s.topic, s.group_id)
    except Exception as err:  # noqa: BLE001 - status must show the rest even when Kafka is down
        return f"consumer lag: Kafka at {s.bootstrap} cannot be read ({type(err).__name__}); is it running?"
