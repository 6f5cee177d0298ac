"""What the learned arbiter (pipelines/nlp/arbiter.py) changes: label scores on labelled JSONL
files (optionally one half, split by the id hash), and event counts per class on an unlabelled
corpus, each with and without the arbiter. The tagger runs once per item; the arbiter filters its
events. `--errors` lists the events the arbiter dropped or kept wrongly; use it on the tuning
half only (the checking half is only ever scored).

    .venv/bin/python benchmarks/arbiter_effect.py eval FILE [--half tuning|checking] [--errors] [--json]
    .venv/bin/python benchmarks/arbiter_effect.py corpus [FILE] [--limit 3000] [--json]
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from itertools import islice
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from newswatch.pipelines.nlp.arbiter import DEFAULT_WEIGHTS, Arbiter  # noqa: E402
from newswatch.pipelines.nlp.evaluate import EVENT_TYPES, read_jsonl, score_labels, split_half  # noqa: E402
from newswatch.pipelines.nlp.tagging import tag  # noqa: E402

CORPUS = HERE.parent.parent / "shared" / "corpus" / "news.jsonl"


def _table(name: str, scores: dict) -> str:
    cells = "  ".join(f"{t[:3]} {c['precision']:.3f}/{c['recall']:.3f}/{c['f1']:.3f}" for t, c in scores["per_class"].items())
    return f"{name:<9} macro-F1 {scores['macro_f1']:.3f}  {cells}  (P/R/F1, n={scores['n']})"


def cmd_eval(args) -> dict:
    items = list(read_jsonl(args.file, ("id", "text", "labels")))
    if args.half:
        items = split_half(items, args.half)
    arbiter = Arbiter(args.weights)
    gold, before, after = [], [], []
    for item in items:
        result = tag(item["text"], item.get("lang"))
        kept, decisions = arbiter.arbitrate(result)
        gold.append(set(item["labels"]))
        before.append(result.labels)
        after.append(kept.labels)
        if args.errors:
            for e, d in zip(result.events, decisions, strict=True):
                right = e.type in gold[-1]
                if d.keep != right:
                    print(f"{'DROPPED' if not d.keep else 'KEPT   '} {'right' if right else 'wrong'} {e.type} "
                          f"p={d.probability:.2f} «{e.trigger['text']}» {item['id']} {list(d.top_features.items())[:4]}")
    return {"without": score_labels(gold, before), "with": score_labels(gold, after)}


def cmd_corpus(args) -> dict:
    arbiter = Arbiter(args.weights)
    before, after = Counter(), Counter()
    with open(args.file, encoding="utf-8") as fh:
        for line in islice((l for l in fh if l.strip()), args.limit):
            item = json.loads(line)
            title = (item.get("title") or "").strip()
            text = f"{title}\n\n{item.get('text') or ''}" if title else item.get("text") or ""
            result = tag(text)
            kept, _ = arbiter.arbitrate(result)
            before.update(e.type for e in result.events)
            after.update(e.type for e in kept.events)
    return {"without": {t: before[t] for t in EVENT_TYPES}, "with": {t: after[t] for t in EVENT_TYPES}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("eval")
    p.add_argument("file")
    p.add_argument("--half", choices=("tuning", "checking"))
    p.add_argument("--errors", action="store_true")
    p = sub.add_parser("corpus")
    p.add_argument("file", nargs="?", default=str(CORPUS))
    p.add_argument("--limit", type=int, default=3000)
    for p in sub.choices.values():
        p.add_argument("--weights", default=str(DEFAULT_WEIGHTS))
        p.add_argument("--json", action="store_true")
    args = parser.parse_args()
    out = cmd_eval(args) if args.command == "eval" else cmd_corpus(args)
    if args.json:
        print(json.dumps(out))
    elif args.command == "eval":
        print(_table("without", out["without"]))
        print(_table("with", out["with"]))
    else:
        for k in ("without", "with"):
            print(f"{k:<9}", "  ".join(f"{t} {n}" for t, n in out[k].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
