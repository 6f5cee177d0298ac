"""Event rates per class on an unlabelled corpus, and a sample of events to read by hand.

Precision on unseen news cannot be scored without labels, but it can be read: this script tags
every article of a JSONL corpus (default ../shared/corpus/news.jsonl, research-only text: read,
never copied), prints per language the share of articles with each event type and the number of
events, and with --sample N writes N randomly drawn events per class (seeded, so a reading can be
repeated after a change) with their sentence to a file outside the repo for reading.

    .venv/bin/python benchmarks/corpus_event_rates.py [FILE] [--sample 50 --out /tmp/events.jsonl] [--json]
"""
from __future__ import annotations

import argparse
import json
import random
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from corpus_items import corpus_articles  # noqa: E402
from newswatch.pipelines.nlp.evaluate import EVENT_TYPES  # noqa: E402
from newswatch.pipelines.nlp.tagging import tag  # noqa: E402

CORPUS = HERE.parent.parent / "shared" / "corpus" / "news.jsonl"


def _sentence_of(result, event) -> str:
    for sent in result.sentences:
        if sent["index"] == event.sentence:
            return (sent["start"], sent["end"])
    return (event.trigger["start"], event.trigger["end"])


def rates(path: Path) -> tuple[dict, dict[str, list[dict]]]:
    """Per language: articles, articles with each type, events of each type; and every event
    (with its sentence) by type, for sampling."""
    articles: Counter = Counter()
    with_type: dict[str, Counter] = {}
    events: dict[str, Counter] = {}
    found: dict[str, list[dict]] = {t: [] for t in EVENT_TYPES}
    for item, text in corpus_articles(path):
        result = tag(text)
        lang = result.language if result.language in ("ar", "en") else "other"
        articles[lang] += 1
        with_type.setdefault(lang, Counter()).update(result.labels)
        events.setdefault(lang, Counter()).update(e.type for e in result.events)
        for e in result.events:
            start, end = _sentence_of(result, e)
            found[e.type].append({"id": item.get("id"), "lang": lang, "rule": e.rule, "trigger": e.trigger["text"],
                                  "sentence": text[start:end].strip()[:600],
                                  "actors": [a.canonical for a in e.actors],
                                  "places": [p.canonical for p in e.locations]})
    table = {lang: {"articles": n,
                    "share_with": {t: round(with_type[lang][t] / n, 4) for t in EVENT_TYPES},
                    "events": {t: events[lang][t] for t in EVENT_TYPES}}
             for lang, n in sorted(articles.items())}
    return table, found


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("file", nargs="?", default=str(CORPUS))
    ap.add_argument("--sample", type=int, default=0, help="events per class to draw for reading")
    ap.add_argument("--out", help="where to write the sample (JSONL); keep it outside the repo")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    path = Path(args.file)
    if not path.is_file():
        print(f"no such file: {path}; give a JSONL corpus with \"text\" (and \"title\") per line", file=sys.stderr)
        return 2
    if args.sample and not args.out:
        print("--sample needs --out FILE (outside the repo: the sample holds the corpus's text)", file=sys.stderr)
        return 2
    table, found = rates(path)
    if args.json:
        print(json.dumps(table))
    else:
        print(f"{'lang':<7}{'articles':>9}" + "".join(f"{t + ' %':>18}{'events':>8}" for t in EVENT_TYPES))
        for lang, row in table.items():
            print(f"{lang:<7}{row['articles']:>9}" + "".join(
                f"{100 * row['share_with'][t]:>18.1f}{row['events'][t]:>8}" for t in EVENT_TYPES))
    if args.sample:
        rng = random.Random(args.seed)
        with open(args.out, "w", encoding="utf-8") as out:
            for t in EVENT_TYPES:
                for ev in rng.sample(found[t], min(args.sample, len(found[t]))):
                    out.write(json.dumps({"type": t, **ev}, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
