"""`newswatch run`: keeps the pipeline workers running, whatever kills them.

The Beam job runs in a child process (the worker); with `pipeline.workers` N > 1, N jobs run side
by side, each over its share of the news topic's partitions, so that the NLP of one share never
waits for another's (one Python SDK harness uses one core). When a worker dies, for any reason,
the supervisor restarts the group; when they stop committing while Kafka and the search engine
answer and a backlog waits, the supervisor kills them and treats that as a crash (a hang). Which runs come next, and
when a record is quarantined as poison, is decided by `recovery.RecoveryPlan` (read its
docstring); this module only runs processes, watches offsets and writes the poison's dead letter.
"""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from newswatch.connectors import kafka
from newswatch.pipelines.logs import configure_logging
from newswatch.pipelines.model import DeadLetter, KafkaRecord
from newswatch.pipelines.recovery import Quarantine, RecoveryPlan, RunCarefully, RunNormally
from newswatch.pipelines.settings import Settings

LOG = logging.getLogger("newswatch.supervisor")
WATCH_INTERVAL_S = 1.0
RESTART_BACKOFF_MAX_S = 30.0
OUTAGE_GRACE_S = 60.0
STARTUP_GRACE_S = 480.0


def descendants(pid: int) -> list[int]:
    """Every descendant of pid (the worker's Prism runner and SDK harness processes)."""
    by_parent: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            by_parent.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        kids = by_parent.get(todo.pop(), [])
        found.extend(kids)
        todo.extend(kids)
    return found


def kill_tree(pid: int, sig: int = signal.SIGKILL) -> None:
    for p in [pid, *descendants(pid)]:
        try:
            os.kill(p, sig)
        except ProcessLookupError:
            pass


def worker_pids(supervisor_pid: int) -> list[int]:
    """The supervised worker processes (`newswatch run --worker`) under a supervisor."""
    def is_worker(pid: int) -> bool:
        try:
            return b"--worker" in Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return False
    return [p for p in descendants(supervisor_pid) if is_worker(p)]


def become_subreaper() -> None:
    """Orphans of a dead worker (its Prism runner) are re-parented to us, so we can stop them."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        LOG.info("cannot become a child subreaper: a dead worker's Prism process may outlive it")


def stop_leftovers() -> None:
    """Kill and reap whatever a dead worker left behind (we are their subreaper)."""
    for pid in descendants(os.getpid()):
        kill_tree(pid)
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass


class OffsetWatch:
    """Committed (or, before any commit, beginning) and end offsets of the news topic."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings.kafka
        self.partitions = kafka.partitions_of(self.settings, self.settings.topic)
        self._group = kafka.new_consumer(self.settings, group_id=self.settings.group_id, enable_auto_commit=False)

    def _tps(self):
        from kafka import TopicPartition

        return [TopicPartition(self.settings.topic, p) for p in self.partitions]

    def committed(self) -> dict[int, int]:
        begin = self._group.beginning_offsets(self._tps())
        return {tp.partition: self._group.committed(tp) or begin[tp] for tp in self._tps()}

    def ends(self) -> dict[int, int]:
        return {tp.partition: off for tp, off in self._group.end_offsets(self._tps()).items()}

    def commit(self, partition: int, next_offset: int) -> None:
        kafka.commit(self.settings, self.settings.topic, partition, next_offset, consumer=self._group)

    def close(self) -> None:
        self._group.close()


def read_record(settings: Settings, partition: int, offset: int) -> KafkaRecord | None:
    """The first record at or after offset (a committed offset may point at a transaction marker)."""
    from kafka import TopicPartition

    tp = TopicPartition(settings.kafka.topic, partition)
    consumer = kafka.new_consumer(settings.kafka, enable_auto_commit=False)
    try:
        consumer.assign([tp])
        consumer.seek(tp, offset)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            for msg in consumer.poll(timeout_ms=1000, max_records=1).get(tp, []):
                return KafkaRecord(msg.topic, msg.partition, msg.offset, msg.offset - 1, msg.timestamp, msg.key,
                                   msg.value if msg.value is not None else b"")
        return None
    finally:
        consumer.close()


def services_reachable(settings: Settings, watch: OffsetWatch) -> bool:
    from newswatch.connectors.search import SearchBackend

    try:
        watch.ends()
        return SearchBackend(settings.search).reachable()
    except Exception:  # noqa: BLE001 - any failure to reach a service means "not now"
        return False


class Supervisor:
    def __init__(self, settings: Settings, worker_cmd: list[str]) -> None:
        self.settings = settings
        self.worker_cmd = worker_cmd
        p = settings.pipeline
        self.plan = RecoveryPlan(max_attempts=p.poison_max_attempts, window=p.careful_window)
        self.stall_timeout_s = p.stall_timeout_s
        self.workers: list[subprocess.Popen] = []
        self.partitions: list[int] = []
        self.stopping = False
        self.restarts = 0
        self.crashes_without_progress = 0  # sets the pause before a restart
        self.last_outage = float("-inf")  # when Kafka or the search engine was last seen unreachable

    # -- the worker processes ----------------------------------------------------------------
    def _start(self, run: RunNormally | RunCarefully) -> None:
        if isinstance(run, RunCarefully):
            LOG.warning("careful run: partition %d one record at a time up to offset %d", run.partition, run.until)
            # one record per bundle: a crash names its record; the other partitions wait meanwhile
            self.workers = [self._spawn([run.partition], 0, {"NEWSWATCH_KAFKA__POLL_MAX_RECORDS": "1"})]
        else:
            shares = partition_shares(self.partitions, self.settings.pipeline.workers)
            self.workers = [self._spawn(share, i) for i, share in enumerate(shares)]
        self.worker_committed = False  # a worker still starting up is not hung: see _stalled

    def _spawn(self, partitions: list[int] | None, index: int, extra_env: dict[str, str] | None = None):
        env = dict(os.environ, **(extra_env or {}))
        port = self.settings.pipeline.metrics_port
        if port and index:  # every worker serves its own DoFns' metrics: one port each
            env["NEWSWATCH_PIPELINE__METRICS_PORT"] = str(port + index)
        cmd = list(self.worker_cmd)
        if partitions is not None:
            cmd += ["--partitions", ",".join(map(str, partitions))]
        worker = subprocess.Popen(cmd, env=env)
        LOG.info("worker %d started (pid %d, partitions %s)", index, worker.pid,
                 "all" if partitions is None else partitions)
        return worker

    def _exited(self) -> subprocess.Popen | None:
        """The first worker that has exited, if any: the group then restarts as one."""
        return next((w for w in self.workers if w.poll() is not None), None)

    def _stop_workers(self, sig: int = signal.SIGTERM, grace_s: float = 20) -> None:
        running = [w for w in self.workers if w.poll() is None]
        for worker in running:
            kill_tree(worker.pid, sig)
        deadline = time.monotonic() + grace_s
        for worker in running:
            try:
                worker.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                kill_tree(worker.pid, signal.SIGKILL)
                worker.wait()
        stop_leftovers()

    # -- the loop -----------------------------------------------------------------------------
    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)
        become_subreaper()
        watch = OffsetWatch(self.settings)
        self.partitions = watch.partitions
        try:
            self._start(self.plan.current)
            self._watch(watch)
        finally:
            self._stop_workers()
            watch.close()
        return 0

    def _on_stop(self, signum, frame) -> None:
        self.stopping = True

    def _watch(self, watch: OffsetWatch) -> None:
        last_committed, last_progress = None, time.monotonic()
        while not self.stopping:
            time.sleep(WATCH_INTERVAL_S)
            try:
                committed = watch.committed()
            except Exception as err:  # noqa: BLE001 - Kafka away: nothing to judge now
                LOG.warning("cannot read committed offsets (%s); Kafka at %s unreachable?", type(err).__name__,
                            self.settings.kafka.bootstrap)
                committed, self.last_outage = None, time.monotonic()
            if committed is not None and committed != last_committed:
                if last_committed is not None:
                    self.worker_committed = True
                last_committed, last_progress = committed, time.monotonic()
                self.crashes_without_progress = 0
                if self._switch(self.plan.progressed(committed)):
                    continue
            exited = self._exited()
            if exited is not None:
                self._after_exit(watch, exited.returncode)
                last_progress = time.monotonic()
            elif committed is not None and self._stalled(watch, committed, last_progress):
                LOG.error("no offset committed for %.0fs with a backlog and both services up: the worker hangs; "
                          "killing it", self.stall_timeout_s)
                self._after_exit(watch, None)  # which kills the group first
                last_progress = time.monotonic()

    def _stalled(self, watch: OffsetWatch, committed: dict[int, int], since: float) -> bool:
        # Starting a worker (Prism, the SDK harness, the lexicons) takes seconds on an idle machine
        # and minutes on a loaded one: until its first commit it gets the longer start-up limit.
        limit = self.stall_timeout_s if self.worker_committed else self.stall_timeout_s + STARTUP_GRACE_S
        if time.monotonic() - since < limit:
            return False
        ends = watch.ends()
        return any(committed[p] < ends[p] for p in committed) and services_reachable(self.settings, watch)

    def _switch(self, run) -> bool:
        """Restart the worker in another mode when the plan says so."""
        if run is None:
            return False
        self._stop_workers()
        self._start(run)
        return True

    def _after_exit(self, watch: OffsetWatch, rc: int | None) -> None:
        # One worker's death restarts them all: the recovery plan reasons about one run over the
        # committed offsets, and the others' unfinished records are simply read again (their ids
        # are deterministic, so the replay overwrites).
        self.restarts += 1
        self.crashes_without_progress += 1
        self._stop_workers(signal.SIGKILL, grace_s=5)
        pause = 1.0
        if not services_reachable(self.settings, watch):
            self.last_outage = time.monotonic()
        # A server that was away shortly before may be back by the time we look: a worker that died
        # then is counted as a casualty of the outage too, not as evidence against a record.
        outage = time.monotonic() - self.last_outage < OUTAGE_GRACE_S
        if outage:
            LOG.warning("worker exited (rc %s) while Kafka or the search engine is unreachable: an outage, not "
                        "bad input; waiting for both", rc)
        while not self.stopping and not services_reachable(self.settings, watch):
            time.sleep(pause)
            pause = min(pause * 2, RESTART_BACKOFF_MAX_S)
        if self.stopping:
            return
        LOG.warning("worker exited (rc %s); restart %d", rc, self.restarts)
        # a death during an outage says nothing about the records: restart as before, count nothing
        run = self.plan.current if outage else self.plan.after_crash(watch.committed(), watch.ends())
        while isinstance(run, Quarantine):
            self._quarantine(watch, run)
            run = self.plan.quarantined(run.offset)
        time.sleep(min(RESTART_BACKOFF_MAX_S, 0.5 * 2 ** (self.crashes_without_progress - 1)))
        self._start(run)

    def _quarantine(self, watch: OffsetWatch, poison: Quarantine) -> None:
        record = read_record(self.settings, poison.partition, poison.offset)
        if record is None:
            LOG.error("partition %d offset %d looked like poison but cannot be read; not skipping it",
                      poison.partition, poison.offset)
            return
        letter = DeadLetter("poison", f"this record made the pipeline worker die {self.plan.max_attempts} times when "
                            "it was the only record in flight; it was set aside so the stream goes on. "
                            + "Report it with this dead letter", "supervisor", record)
        producer = kafka.producer(self.settings.kafka)
        try:
            producer.send(self.settings.kafka.dlq_topic, value=letter.to_json(), key=letter.key).get(timeout=60)
        finally:
            producer.close()
        watch.commit(record.partition, record.offset + 1)
        LOG.error("quarantined %s:%d@%d as poison (dead-lettered, offset passed)", record.topic, record.partition,
                  record.offset)


def partition_shares(partitions: list[int], workers: int) -> list[list[int] | None]:
    """Which partitions each worker reads: round-robin over the sorted partitions, no worker
    without one. One worker reads all (None), so partitions added later are read too."""
    if workers <= 1:
        return [None]
    ordered = sorted(partitions)
    return [ordered[i::workers] for i in range(min(workers, len(ordered)))]


def supervise(settings: Settings, worker_cmd: list[str] | None = None) -> int:
    configure_logging()
    cmd = worker_cmd or [sys.executable, "-m", "newswatch.pipelines.cli", "run", "--worker"]
    return Supervisor(settings, cmd).run()
