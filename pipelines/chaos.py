"""`newswatch chaos --items N`: the stream against restarts and kills, counted.

On the local stack, with topics and indices of its own (nothing of the user's is touched), it
sends N items (valid articles and, mixed in, malformed messages) in four chunks to a running
`newswatch run`. Between chunks, mid-stream: the Kafka broker is restarted, then the search
engine, then each again, and every time the pipeline worker is SIGKILLed while the server is
down. Then it waits for every offset to be committed and counts, from the indices and the
dead-letter topic: sent, indexed, duplicates, dead-lettered, lost.
"""
from __future__ import annotations

import json
import random
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

from newswatch.connectors import kafka, stack
from newswatch.connectors.search import SearchBackend
from newswatch.pipelines.settings import Settings, as_environment
from newswatch.pipelines.streaming import prepare
from newswatch.pipelines.supervisor import kill_tree, worker_pids

# Sentences of our own making, so the run needs nothing outside the repository.
_SENTENCES = [
    "Warplanes struck positions of the armed group near the northern border on {day}.",
    "The two sides signed a ceasefire agreement that takes effect at midnight.",
    "The army moved tanks and about {n} troops towards the frontier overnight.",
    "Local officials opened a new school and a hospital wing in the capital.",
    "قصفت المدفعية مواقع المسلحين في ريف المدينة صباح {day}.",
    "أعلن الطرفان التوصل إلى اتفاق لوقف إطلاق النار في الجنوب.",
    "أرسل الجيش تعزيزات عسكرية تضم {n} جندي إلى الحدود.",
]
_BAD = [b"", b"{not json", b"\xff\xfe\xfa", b"[" * 50_000 + b"]" * 50_000, b'{"id": "no-text"}', b"[1, 2, 3]"]


def _valid_item(tag: str, i: int, rng: random.Random) -> bytes:
    text = " ".join(rng.choice(_SENTENCES).format(day=f"day {i % 28 + 1}", n=100 + i) for _ in range(3))
    return json.dumps({"id": f"{tag}-{i}", "url": f"https://chaos.invalid/{tag}/{i}", "title": f"chaos item {i}",
                       "text": text, "published_at": "2026-11-25T08:00:00Z", "source": "newswatch-chaos"},
                      ensure_ascii=False).encode()


def make_messages(tag: str, n: int, bad_every: int = 10, seed: int = 5) -> tuple[list[bytes], set[str], int]:
    """N messages: every `bad_every`-th one malformed. Returns (messages, valid ids, number bad)."""
    rng = random.Random(seed)
    messages, ids, bad = [], set(), 0
    for i in range(n):
        if i % bad_every == bad_every - 1:
            messages.append(_BAD[bad % len(_BAD)] + (b"" if bad % len(_BAD) in (0, 3) else f" {i}".encode()))
            bad += 1
        else:
            messages.append(_valid_item(tag, i, rng))
            ids.add(f"{tag}-{i}")
    return messages, ids, bad


def chaos_settings(base: Settings, tag: str) -> Settings:
    return base.model_copy(update={
        "kafka": base.kafka.model_copy(update={"topic": f"chaos-{tag}", "dlq_topic": f"chaos-{tag}.dlq",
                                               "group_id": f"newswatch-chaos-{tag}"}),
        "search": base.search.model_copy(update={"articles_index": f"nw-chaos-{tag}-articles",
                                                 "events_index": f"nw-chaos-{tag}-events"}),
    })


class ChaosRun:
    def __init__(self, settings: Settings, n: int, log: Path, say=print) -> None:
        self.tag = uuid.uuid4().hex[:8]
        self.s = chaos_settings(settings, self.tag)
        self.n = n
        self.log = log
        self.say = say
        self.kills = 0

    # -- disruptions ----------------------------------------------------------------------------
    def _kill_worker(self, supervisor: subprocess.Popen) -> None:
        for pid in worker_pids(supervisor.pid):
            kill_tree(pid)
            self.kills += 1

    def _restart(self, component: str, supervisor: subprocess.Popen) -> None:
        self.say(f"  restarting {component}; the pipeline worker is SIGKILLed while it is down")
        stack.stop(self.s.stack, component)
        time.sleep(2)
        self._kill_worker(supervisor)
        time.sleep(2)
        (stack.start_kafka if component == "kafka" else stack.start_opensearch)(self.s.stack)

    def _indexed(self) -> int:
        backend = SearchBackend(self.s.search)
        try:
            backend.refresh(self.s.search.articles_index)
            return backend.count(self.s.search.articles_index)
        except Exception:  # noqa: BLE001 - the engine may be restarting
            return -1

    def _wait(self, predicate, timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError(f"chaos: timed out after {timeout_s:.0f}s waiting for {what}; see {self.log}")
            time.sleep(1)

    def _all_committed(self) -> bool:
        try:
            ends = kafka.end_offsets(self.s.kafka, self.s.kafka.topic)
            committed = kafka.committed_offsets(self.s.kafka, self.s.kafka.topic)
        except Exception:  # noqa: BLE001 - Kafka may be restarting
            return False
        return all((committed.get(p) or 0) >= end for p, end in ends.items())

    # -- the run --------------------------------------------------------------------------------
    def run(self, timeout_s: float) -> dict:
        messages, valid_ids, bad = make_messages(self.tag, self.n)
        prepare(self.s)
        env = as_environment(self.s)
        with self.log.open("ab") as out:
            supervisor = subprocess.Popen([sys.executable, "-m", "newswatch.pipelines.cli", "run"], env=env, stdout=out,
                                          stderr=subprocess.STDOUT, start_new_session=True)
        started = time.monotonic()
        try:
            chunks = [messages[i::4] for i in range(4)]
            for k, (chunk, component) in enumerate(zip(chunks, ["kafka", "opensearch", "kafka", "opensearch"], strict=True)):
                before = max(self._indexed(), 0)
                kafka.produce(self.s.kafka, chunk)
                self.say(f"chunk {k + 1}/4: {len(chunk)} messages sent")
                self._wait(lambda b=before: self._indexed() >= b + 10, timeout_s, "the pipeline to index the chunk")
                self._restart(component, supervisor)
            self._wait(self._all_committed, timeout_s, "every offset to be committed")
            alive = supervisor.poll() is None
        finally:
            kill_tree(supervisor.pid, 15)
            supervisor.wait(timeout=60)
        result = self._count(valid_ids, bad)
        result.update(seconds=round(time.monotonic() - started, 1), worker_kills=self.kills,
                      supervisor_alive_at_end=alive, topic=self.s.kafka.topic)
        return result

    def _count(self, valid_ids: set[str], bad: int) -> dict:
        backend = SearchBackend(self.s.search)
        index = self.s.search.articles_index
        backend.refresh(index)
        found: Counter[str] = Counter()
        after = None
        while True:
            body = {"size": 5000, "_source": False, "sort": [{"id": "asc"}], "fields": ["id"]}
            if after:
                body["search_after"] = after
            hits = backend.search(index, body)["hits"]["hits"]
            if not hits:
                break
            found.update(h["fields"]["id"][0] for h in hits)
            after = hits[-1]["sort"]
        raw_letters = kafka.read_topic(self.s.kafka, self.s.kafka.dlq_topic)
        letters = Counter(m.key for m in raw_letters)
        valid_letters = {json.loads(m.value).get("item_id") for m in raw_letters} & valid_ids
        indexed = sum(1 for i in found if i in valid_ids and i not in valid_letters)
        return {
            "sent": len(valid_ids) + bad, "sent_valid": len(valid_ids), "sent_bad": bad,
            "indexed": indexed, "duplicates": sum(c - 1 for c in found.values()),
            "dead_lettered": len(letters), "valid_items_dead_lettered": len(valid_letters),
            "dead_letters_written_twice": sum(c - 1 for c in letters.values()),
            "lost": len(valid_ids) - indexed + max(0, bad - (len(letters) - len(valid_letters))),
            "unexpected_documents": sum(1 for i in found if i not in valid_ids),
        }


def run_chaos(settings: Settings, items: int, timeout_s: float = 900) -> dict:
    stack.up(settings.stack)
    log = settings.stack.home / "chaos.log"
    print(f"chaos: {items} messages, Kafka and the search engine restarted twice each, the worker SIGKILLed "
          f"during every restart (log: {log})", file=sys.stderr)
    return ChaosRun(settings, items, log, say=lambda m: print(m, file=sys.stderr)).run(timeout_s)
