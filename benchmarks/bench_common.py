"""What the benchmarks share: the articles they send, the subscription mix, the run's own topics
and indices, the processes they start, and percentiles. Real articles from ../shared/corpus when
present (measurement only), else our own synthetic sentences."""
from __future__ import annotations

import json
import math
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from newswatch.connectors import kafka  # noqa: E402
from newswatch.pipelines.alerting.service import SubscriptionService  # noqa: E402
from newswatch.pipelines.model import EVENT_TYPES, Subscription  # noqa: E402
from newswatch.pipelines.settings import Settings, as_environment  # noqa: E402

CORPUS = HERE.parent.parent / "shared" / "corpus" / "news.jsonl"
SYNTHETIC = [
    "Government warplanes carried out airstrikes on rebel positions near Aleppo.",
    "أرسل الجيش تعزيزات عسكرية إلى الحدود الشمالية قرب إدلب بعد اشتباكات مع مسلحين.",
    "The two sides agreed to extend the ceasefire in Yemen for another month.",
    "قصفت طائرات التحالف مواقع للحوثيين في صنعاء.",
]
REGION = ("SY", "IQ", "YE", "LB", "PS", "IL", "JO", "SA", "TR", "IR", "EG", "LY", "SD", "SO", "AF")


# --- inputs ---------------------------------------------------------------------------------------

def texts(n: int) -> list[str]:
    """n article texts: the corpus (cut at 3,000 characters, as the pipeline benchmark does), cycled."""
    if CORPUS.exists():
        out = []
        with CORPUS.open(encoding="utf-8") as fh:
            for line in fh:
                out.append(json.loads(line)["text"][:3000])
                if len(out) >= min(n, 6000):
                    break
        return [out[i % len(out)] for i in range(n)]
    return [" ".join(SYNTHETIC[(i + k) % len(SYNTHETIC)] for k in range(6)) for i in range(n)]


def item(run: str, i: int | str, text: str) -> bytes:
    return json.dumps({"id": f"{run}-{i}", "url": f"https://bench.invalid/{run}/{i}", "title": "", "text": text,
                       "published_at": None, "source": "benchmark"}, ensure_ascii=False).encode()


class Vocabulary:
    """What subscriptions are made of: the gazetteer's places in the region, the actor lexicon,
    the trigger subtypes, and words of middling document frequency in the texts sent (a query
    on a word every article has, or none has, measures nothing)."""

    def __init__(self, sample: list[str]) -> None:
        from newswatch.pipelines.nlp.geo import gazetteer
        from newswatch.pipelines.nlp.resources import load_data

        places = {n.canonical: n for names in gazetteer().values() for n in names
                  if n.country in REGION and n.lat is not None}
        self.places = sorted(places.values(), key=lambda n: n.canonical)
        self.actors = sorted({a["canonical"] for a in load_data("actors")["actors"]})
        self.subtypes = sorted({t["subtype"] for t in load_data("triggers")["triggers"]})
        self.words = middling_words(sample)


def middling_words(sample: list[str], low: float = 0.001, high: float = 0.006) -> list[str]:
    df = Counter(w for text in sample for w in set(re.findall(r"\w{4,}", text.lower())) if not w.isdigit())
    n = max(1, len(sample))
    words = sorted(w for w, c in df.items() if low * n <= c <= high * n)
    return words or sorted(df)[:100]


def make_subscriptions(n: int, vocab: Vocabulary, webhook_url: str, rng: random.Random) -> list[Subscription]:
    """30 % radius, 20 % text query, 50 % terms filters; each a type or two of the other filters,
    so that a subscription wants a small share of the events, as an analyst's does."""
    subs = []
    for i in range(n):
        kind = ("radius", "radius", "radius", "text", "text", "terms", "terms", "terms", "terms", "terms")[i % 10]
        fields: dict = {"types": [rng.choice(EVENT_TYPES)]}
        if kind == "radius":
            place = rng.choice(vocab.places)
            fields.update(near={"lat": place.lat, "lon": place.lon}, radius_km=round(rng.uniform(5, 50), 1))
        elif kind == "text":
            fields["query"] = " ".join(rng.sample(vocab.words, rng.choice((1, 2, 2))))
            if rng.random() < 0.5:
                fields.pop("types")
        else:
            for name in rng.sample(("places", "actors", "countries", "subtypes"), 2):
                fields[name] = [rng.choice({"places": [p.canonical for p in vocab.places], "actors": vocab.actors,
                                            "countries": list(REGION), "subtypes": vocab.subtypes}[name])]
        subs.append(Subscription(owner="benchmark", name=f"bench-{kind}-{i}", realert_s=0,
                                 channels=[{"type": "webhook", "url": webhook_url}], **fields))
    return subs


def kind_of(sub: Subscription) -> str:
    return "radius" if sub.near else "text" if sub.query else "terms"




def percentiles(values: list[float]) -> dict:
    """Nearest-rank percentiles, in the unit given."""
    if not values:
        return {"n": 0}
    ordered = sorted(values)

    def rank(p: float) -> float:
        return round(ordered[max(0, math.ceil(p * len(ordered)) - 1)], 1)

    return {"n": len(ordered), "p50": rank(0.50), "p95": rank(0.95), "p99": rank(0.99), "max": round(ordered[-1], 1)}


def load() -> float:
    return round(os.getloadavg()[0], 2)




def run_settings(base: Settings, run: str) -> Settings:
    """The base settings on topics, a consumer group and indices of this run only."""
    k = base.kafka.model_copy(update={"topic": run, "dlq_topic": f"{run}.dlq", "group_id": run})
    s = base.search.model_copy(update={f"{name}_index": f"{run}-{name}"
                                       for name in ("articles", "events", "subscriptions", "alerts")})
    a = base.alerts.model_copy(update={"topic": f"{run}.alerts", "dlq_topic": f"{run}.alerts.dlq",
                                       "group_id": f"{run}-alerts", "allowed_networks": ["127.0.0.0/8"],
                                       "rules_file": None})
    return base.model_copy(update={"kafka": k, "search": s, "alerts": a})


def spawn(settings: Settings, args: list[str], log: Path) -> subprocess.Popen:
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "newswatch.pipelines.cli", *args], env=as_environment(settings),
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True, cwd=HERE.parent)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=60)


def all_committed(ks, topic: str, group_id: str) -> bool:
    group = ks.model_copy(update={"group_id": group_id})
    ends = kafka.end_offsets(group, topic)
    done = kafka.committed_offsets(group, topic)
    return all((done.get(p) or 0) >= e for p, e in ends.items())


def wait_for(predicate, timeout_s: float, what: str, procs: list[subprocess.Popen]) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        dead = [p.args for p in procs if p.poll() is not None]
        if dead:
            raise SystemExit(f"benchmark: {dead[0]} exited while waiting for {what}; see its log")
        time.sleep(0.5)
    print(f"benchmark: gave up waiting for {what} after {timeout_s:.0f} s; reporting what arrived",
          file=sys.stderr)
    return False


def store_subscriptions(settings: Settings, subs: list[Subscription]) -> float:
    """Through the service, as `newswatch subscribe` stores them (SSRF check, webhook key, refresh),
    four at a time: each save waits for its own refresh."""
    from concurrent.futures import ThreadPoolExecutor

    service = SubscriptionService(settings)
    start = time.perf_counter()
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(service.save, subs))
    return time.perf_counter() - start


