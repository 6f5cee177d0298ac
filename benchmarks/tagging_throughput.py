"""Throughput of language detection + normalization + tagging on one core.

Reads real articles from ../shared/corpus/news.jsonl when it is there (research-only text: read,
never copied), else a synthetic corpus built from our own sentences. Articles are cut or
repeated to ~3 KB, as the target is stated for 3 KB articles. Prints items/s and peak RSS,
writes benchmarks/results/tagging-latest.json and compares with benchmarks/results/tagging-baseline.json
(`--save-baseline` makes the current run the baseline).

    .venv/bin/python benchmarks/tagging_throughput.py [--n 2000] [--save-baseline]
"""
from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from pipelines.nlp.language import detect_language  # noqa: E402
from pipelines.nlp.normalize import normalize  # noqa: E402
from pipelines.nlp.tagging import default_tagger  # noqa: E402
from results_file import save_and_compare  # noqa: E402

CORPUS = HERE.parent.parent / "shared" / "corpus" / "news.jsonl"
ARTICLE_CHARS = 3000
SYNTHETIC = [
    "أرسل الجيش تعزيزات عسكرية إلى الحدود الشمالية بعد اشتباكات مع مسلحين قرب البلدة.",
    "وأعلن الطرفان التوصل إلى هدنة لمدة شهر قابلة للتمديد برعاية الأمم المتحدة.",
    "Government warplanes carried out airstrikes on rebel positions near the town on Monday.",
    "The ministry said talks on the new budget would resume next week in the capital.",
]


def load_articles(n: int) -> tuple[list[str], str]:
    texts: list[str] = []
    source = "synthetic"
    if CORPUS.exists():
        source = str(CORPUS)
        with CORPUS.open(encoding="utf-8") as fh:
            for line in fh:
                texts.append(json.loads(line)["text"])
                if len(texts) >= n:
                    break
    else:
        texts = [" ".join(SYNTHETIC[(i + k) % 4] for k in range(40)) for i in range(n)]
    return [(t * (ARTICLE_CHARS // max(len(t), 1) + 1))[:ARTICLE_CHARS] for t in texts], source


def run(n: int) -> dict:
    articles, source = load_articles(n)
    tagger = default_tagger()
    tagger.tag(articles[0])  # warm caches that every long-running worker has warm
    events = 0
    start = time.perf_counter()
    for text in articles:
        lang = detect_language(text).code
        events += len(tagger.tag(text, lang).events)
    elapsed = time.perf_counter() - start
    start = time.perf_counter()
    for text in articles:
        normalize(text)
    norm_elapsed = time.perf_counter() - start
    return {
        "benchmark": "language+normalize+tag, one core",
        "source": source, "articles": len(articles), "article_chars": ARTICLE_CHARS,
        "items_per_s": round(len(articles) / elapsed, 1),
        "normalize_only_items_per_s": round(len(articles) / norm_elapsed, 1),
        "events": events,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "python": platform.python_version(), "machine": platform.machine(),
        "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--save-baseline", action="store_true")
    args = parser.parse_args()
    result = run(args.n)
    save_and_compare("tagging", result, args.save_baseline, lambda r, b: (
        f"vs baseline ({b['when']}): {r['items_per_s']} / {b['items_per_s']} items/s = "
        f"{r['items_per_s'] / b['items_per_s']:.2f}x; peak RSS {r['peak_rss_mb']} MB vs {b['peak_rss_mb']} MB"))
    print(f"target: >= 2000 items/s, < 500 MB RSS -> {'met' if result['items_per_s'] >= 2000 else 'NOT met'} / "
          f"{'met' if result['peak_rss_mb'] < 500 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
