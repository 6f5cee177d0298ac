"""What the supervisor does after the pipeline worker dies: restart, isolate, or quarantine.

Pure decisions over committed and end offsets (no processes, no Kafka), so they can be tested
alone. The reasoning:

- Offsets are committed only for durable records, and per partition the committed offset is the
  first record not yet durable. A record that kills the worker is never durable, so after every
  crash its partition's committed offset stands at or before it.
- One crash proves nothing (a SIGKILL, an out-of-memory kill of a busy worker). A partition with
  a backlog whose committed offset did not move between two consecutive crashes is *suspect*.
- Suspect partitions are replayed *carefully*, one partition at a time and one record per bundle,
  so a crash then stops exactly at the record that caused it: the committed offset is that
  record. When the worker dies `max_attempts` times in a row at the same offset in careful mode,
  that record is the poison: it is dead-lettered with reason `poison` and its offset is passed.
- Careful mode covers `window` records per suspect partition, then the supervisor goes back to
  normal speed (one record per bundle is slow); a poison record further on makes the partition
  suspect again, and the next round finds it.
Crashes while Kafka or the search engine is unreachable are outages, not poison: the caller does
not report them here.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class RunNormally:
    pass


@dataclass(frozen=True)
class RunCarefully:
    partition: int
    until: int  # stop careful mode once the committed offset reaches this


@dataclass(frozen=True)
class Quarantine:
    partition: int
    offset: int


@dataclass
class RecoveryPlan:
    max_attempts: int = 2
    window: int = 500
    _last_crash: dict[int, int] | None = None
    _queue: list[RunCarefully] = field(default_factory=list)
    _careful: RunCarefully | None = None
    _attempts: tuple[int, int] = (-1, 0)  # (offset, crashes there) in careful mode

    @property
    def current(self) -> RunNormally | RunCarefully:
        return self._careful or RunNormally()

    def after_crash(self, committed: dict[int, int], ends: dict[int, int]) -> RunNormally | RunCarefully | Quarantine:
        """The worker died (services reachable). What to run next, or which record to quarantine
        (the caller then dead-letters it, commits past it and asks `next_run`)."""
        if self._careful is None:
            return self._after_normal_crash(committed, ends)
        return self._after_careful_crash(committed[self._careful.partition])

    def progressed(self, committed: dict[int, int]) -> RunNormally | RunCarefully | None:
        """Called while a run is healthy; returns a new run when careful mode is done with its
        partition, else None."""
        if self._careful is None or committed[self._careful.partition] < self._careful.until:
            return None
        return self._next_careful()

    def quarantined(self, offset: int) -> RunNormally | RunCarefully:
        """The poison at `offset` is dead-lettered and committed past: go on carefully after it."""
        careful = self._careful
        self._attempts = (-1, 0)
        if careful is None or offset + 1 >= careful.until:
            return self._next_careful()
        return careful

    def _after_normal_crash(self, committed: dict[int, int], ends: dict[int, int]):
        last, self._last_crash = self._last_crash, dict(committed)
        if last is None:
            return RunNormally()
        stuck = [p for p in sorted(committed) if committed[p] < ends.get(p, 0) and committed[p] == last.get(p)]
        if not stuck:
            return RunNormally()
        self._queue = [RunCarefully(p, min(ends[p], committed[p] + self.window)) for p in stuck]
        return self._next_careful()

    def _after_careful_crash(self, offset: int):
        at, crashes = self._attempts
        crashes = crashes + 1 if at == offset else 1
        self._attempts = (offset, crashes)
        if crashes >= self.max_attempts:
            return Quarantine(self._careful.partition, offset)
        return self._careful

    def _next_careful(self) -> RunNormally | RunCarefully:
        self._attempts = (-1, 0)
        if self._queue:
            self._careful = self._queue.pop(0)
            return self._careful
        self._careful, self._last_crash = None, None
        return RunNormally()
