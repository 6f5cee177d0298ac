"""What the search engine spends per article on the documents the pipeline writes, by part.

The throughput benchmark finds the engine the largest CPU user of the pipeline. This one tells
which documents cost it: the N articles' documents are made once by the in-process chain (parse,
NLP, documents: what the pipeline would bulk-write), then bulk-indexed into fresh indices with the
production templates, 500 per request, as the pipeline does, in three variants:
  - articles only;
  - articles and events, as written today (each event carries the article's title and full text,
    analysed three ways: what search and the subscriptions' text queries read);
  - articles and events without the title and text (the events' own fields and sentence only).
For each: wall seconds, and the engine's CPU seconds (from /proc) during the bulk requests and
the settle time after them (refreshes and merges). The first variant is the baseline of the same
run. Then the stream's matching of the same events, the other thing the engine does per article:
`--subscriptions` stored subscriptions (the alert benchmark's mix), the events matched in
batches of the articles of one bulk request, as MatchSubscriptions does (structured filters in
process, one percolation of the text candidates per batch). Prints the figures,
writes benchmarks/results/engine-cost-latest.json and compares with the stored baseline.

    .venv/bin/python benchmarks/engine_cost.py [--items 2000] [--settle 5]
"""
from __future__ import annotations

import argparse
import sys
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from newswatch.connectors import stack  # noqa: E402
from newswatch.connectors.search import SearchBackend  # noqa: E402
from newswatch.pipelines.settings import Settings, load_settings  # noqa: E402
from bench_common import (CORPUS, Vocabulary, item, load, make_subscriptions, run_settings,  # noqa: E402
                          store_subscriptions, texts)
from results_file import save_and_compare  # noqa: E402
from throughput import cpu_seconds  # noqa: E402

BULK = 500
ARTICLE_TEXT = ("title", "text")


def documents(settings: Settings, corpus: list[str]) -> list[tuple[str, str, dict]]:
    """(index, id, document) as the pipeline writes them for these articles."""
    from newswatch.pipelines.article_steps import RecordProcessor
    from newswatch.pipelines.model import IndexRequest, KafkaRecord

    processor = RecordProcessor(settings.search, 1_000_000)
    docs: list[tuple[str, str, dict]] = []
    for i, text in enumerate(corpus):
        record = KafkaRecord("news", 0, i, i - 1, 0, None, item("cost", i, text))
        result = processor.process(record, "2026-01-01T00:00:00Z")
        if isinstance(result, IndexRequest):
            docs += [(index, doc_id, doc) for index, doc_id, doc in result.docs if doc is not None]
    return docs


def variant(settings: Settings, docs: list[tuple[str, str, dict]], name: str) -> list[tuple[str, str, dict]]:
    s = settings.search
    if name == "articles only":
        return [d for d in docs if d[0] == s.articles_index]
    if name == "events without article text":
        return [(index, doc_id, {k: v for k, v in doc.items() if index != s.events_index or k not in ARTICLE_TEXT})
                for index, doc_id, doc in docs]
    return docs


def measure(base: Settings, docs: list[tuple[str, str, dict]], name: str, settle_s: float) -> dict:
    """Index the variant's documents into fresh indices of one run; the engine's CPU meanwhile."""
    run = f"cost{uuid.uuid4().hex[:6]}"
    settings = run_settings(base, run)
    backend = SearchBackend(settings.search)
    backend.ensure_templates()
    renamed = {base.search.articles_index: settings.search.articles_index,
               base.search.events_index: settings.search.events_index}
    chosen = [(renamed[index], doc_id, doc) for index, doc_id, doc in variant(base, docs, name)]
    engine = stack.running_pid(base.stack.home, "opensearch")
    cpu_before, started = cpu_seconds(engine), time.perf_counter()
    for i in range(0, len(chosen), BULK):
        backend.bulk_index(chosen[i:i + BULK])
    bulk_s = time.perf_counter() - started
    time.sleep(settle_s)
    cpu = cpu_seconds(engine) - cpu_before
    counts = {index: sum(1 for d in chosen if d[0] == index) for index in renamed.values()}
    backend.delete_indices()
    return {"variant": name, "documents": len(chosen), "articles": counts[settings.search.articles_index],
            "events": counts[settings.search.events_index], "bulk_seconds": round(bulk_s, 2),
            "engine_cpu_seconds": round(cpu, 2)}


def percolation(base: Settings, docs: list[tuple[str, str, dict]], corpus: list[str], n_subs: int) -> dict:
    """The engine's CPU while the events of each bulk request's articles are matched."""
    import random

    from newswatch.connectors.subscriptions import SubscriptionStore
    from newswatch.pipelines.alerting.matching import SubscriptionMatcher, match_events

    settings = run_settings(base, f"cost{uuid.uuid4().hex[:6]}")
    backend = SearchBackend(settings.search)
    backend.ensure_templates()
    subs = make_subscriptions(n_subs, Vocabulary(corpus[:3000]), "http://127.0.0.1:9/cost", random.Random(7))
    store_subscriptions(settings, subs)
    store, matcher = SubscriptionStore(backend), SubscriptionMatcher(subs)
    events = [doc for index, _, doc in docs if index == base.search.events_index]
    per_batch = max(1, round(len(events) * BULK / len(corpus)))  # the events of BULK articles
    engine = stack.running_pid(base.stack.home, "opensearch")
    cpu_before, started, alerts = cpu_seconds(engine), time.perf_counter(), 0
    for i in range(0, len(events), per_batch):
        alerts += sum(len(m) for m in match_events(events[i:i + per_batch], matcher, store.percolate))
    seconds = time.perf_counter() - started
    cpu = cpu_seconds(engine) - cpu_before
    backend.delete_indices()
    return {"variant": f"matching against {n_subs} subscriptions", "events": len(events), "alerts": alerts,
            "seconds": round(seconds, 2), "engine_cpu_seconds": round(cpu, 2)}


def compare(r: dict, b: dict) -> str:
    now = {v["variant"]: v["engine_cpu_seconds"] for v in r["variants"]}
    was = {v["variant"]: v["engine_cpu_seconds"] for v in b["variants"]}
    return "vs stored baseline (" + b["when"] + "): " + ", ".join(
        f"{name} {now[name]} vs {was.get(name)} CPU-s" for name in now)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=2000, help="articles (default 2000)")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds counted after the last bulk (merges)")
    parser.add_argument("--subscriptions", type=int, default=1000, help="stored subscriptions to match against")
    parser.add_argument("--save-baseline", action="store_true")
    args = parser.parse_args()
    base = load_settings()
    stack.up(base.stack)
    corpus = texts(args.items)
    docs = documents(base, corpus)
    started = load()
    names = ("articles and events (today)", "articles only", "events without article text")
    results = [measure(base, docs, name, args.settle) for name in names]
    results.append(percolation(base, docs, corpus, args.subscriptions))
    baseline = results[0]["engine_cpu_seconds"]
    for r in results:
        r["share_of_today"] = round(r["engine_cpu_seconds"] / baseline, 3) if baseline else None
        print(f"{r['variant']:40} engine {r['engine_cpu_seconds']:6.2f} CPU-s "
              f"({1000 * r['engine_cpu_seconds'] / args.items:.2f} ms per article)", file=sys.stderr)
    result = {"benchmark": "engine CPU per article by document kind (bulk indexing, production templates)",
              "source": str(CORPUS) if CORPUS.exists() else "synthetic", "items": args.items,
              "variants": results, "load_avg_1m_start": started, "load_avg_1m_end": load(),
              "when": time.strftime("%Y-%m-%dT%H:%M:%S")}
    save_and_compare("engine-cost", result, args.save_baseline, compare)
    return 0


if __name__ == "__main__":
    sys.exit(main())
