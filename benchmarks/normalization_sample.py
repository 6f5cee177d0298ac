"""A sample of the spaces the normalizer inserts into unlabelled Arabic news, for reading by hand.

The normalization gold file scores keeps on a few dozen words; a wrong split on unseen text
(a legitimate word broken in two) only shows when real news is read. This script repairs every
Arabic article of a JSONL corpus (default ../shared/corpus/news.jsonl, research-only text: read at
run time, never copied into the repo), collects each white-space token the repair changed, draws
N of them (seeded, at most --per-article from one article, so one article's habits do not fill the
sample) and writes them with some context and an empty "verdict" field to
benchmarks/results/normalization-sample-latest.json (ignored by git). After reading, set each
verdict to "ok" (two words wrongly joined in the source, now apart) or "wrong" (one word broken)
and count them with --score.

    .venv/bin/python benchmarks/normalization_sample.py [FILE] [--n 200] [--seed 7] [--kinds run]
    .venv/bin/python benchmarks/normalization_sample.py --score benchmarks/results/normalization-sample-latest.json
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
from newswatch.pipelines.nlp.language import detect_language  # noqa: E402
from newswatch.pipelines.nlp.normalize import clean_unicode, find_repairs  # noqa: E402

CORPUS = HERE.parent.parent / "shared" / "corpus" / "news.jsonl"
OUT = HERE / "results" / "normalization-sample-latest.json"
CONTEXT_WORDS = 6
KINDS = ("digit", "final", "punct", "run")
_FINALS = "\u0629\u0649"


def kind_of(text: str, at: int) -> str:
    """Which repair put a space before `at`, told from the characters it separates (the
    normalizer does not report it): a digit on either side, a word-final ة/ى on the left,
    punctuation or a guillemet, or else the splitter of words run together."""
    left, right = text[at - 1], text[at]
    if left.isdigit() or right.isdigit():
        return "digit"
    if left in _FINALS:
        return "final"
    if not left.isalpha() or not right.isalpha():
        return "punct"
    return "run"


def _token_span(text: str, at: int) -> tuple[int, int]:
    start = at
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    end = at
    while end < len(text) and not text[end].isspace():
        end += 1
    return start, end


def _with_spaces(piece: str, offset: int, points: list[int]) -> str:
    for p in reversed(points):
        piece = piece[:p - offset] + " " + piece[p - offset:]
    return piece


def changed_tokens(item_id: str, text: str) -> list[dict]:
    """One record per white-space token the repair changes (a token may get several spaces)."""
    points = find_repairs(text)
    by_token: dict[tuple[int, int], list[int]] = {}
    for p in points:
        by_token.setdefault(_token_span(text, p), []).append(p)
    out = []
    for (start, end), inside in by_token.items():
        before = text[:start].split()[-CONTEXT_WORDS:]
        after = text[end:].split()[:CONTEXT_WORDS]
        out.append({"id": item_id, "offset": start, "token": text[start:end],
                    "split": _with_spaces(text[start:end], start, inside),
                    "kinds": sorted({kind_of(text, p) for p in inside}),
                    "context": " ".join(before) + " [[" + text[start:end] + "]] " + " ".join(after),
                    "verdict": None})
    return out


def collect(path: Path) -> tuple[Counter, list[dict]]:
    counts: Counter = Counter()
    records: list[dict] = []
    for item, raw in corpus_articles(path):
        if detect_language(raw).code != "ar":
            continue
        counts["arabic articles"] += 1
        found = changed_tokens(item.get("id", ""), clean_unicode(raw)[0])
        counts["changed tokens"] += len(found)
        counts.update(f"tokens with a {k} split" for r in found for k in r["kinds"])
        records.extend(found)
    return counts, records


def draw(records: list[dict], n: int, seed: int, per_article: int, kinds: set[str]) -> list[dict]:
    pool = [r for r in records if kinds.intersection(r["kinds"])]
    random.Random(seed).shuffle(pool)
    taken: Counter = Counter()
    sample = []
    for r in pool:
        if taken[r["id"]] < per_article:
            taken[r["id"]] += 1
            sample.append(r)
            if len(sample) == n:
                break
    return sample


def score(path: Path) -> dict:
    sample = json.loads(path.read_text(encoding="utf-8"))["sample"]
    verdicts = Counter(r.get("verdict") or "unread" for r in sample)
    read = verdicts["ok"] + verdicts["wrong"]
    return {"read": read, "ok": verdicts["ok"], "wrong": verdicts["wrong"], "unread": verdicts["unread"],
            "keep_precision": round(verdicts["ok"] / read, 4) if read else None,
            "wrong_tokens": [r["token"] for r in sample if r.get("verdict") == "wrong"]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("file", nargs="?", default=str(CORPUS))
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--per-article", type=int, default=2)
    ap.add_argument("--kinds", default=",".join(KINDS), help=f"comma-separated, of {', '.join(KINDS)}")
    ap.add_argument("--out", default=str(OUT))
    ap.add_argument("--score", metavar="SAMPLE_JSON", help="count the verdicts of a sample read by hand")
    args = ap.parse_args()
    if args.score:
        print(json.dumps(score(Path(args.score)), ensure_ascii=False, indent=2))
        return 0
    kinds = set(args.kinds.split(","))
    if not Path(args.file).is_file() or not kinds <= set(KINDS):
        print(f"need an existing JSONL corpus (got {args.file}) and --kinds among {', '.join(KINDS)}",
              file=sys.stderr)
        return 2
    counts, records = collect(Path(args.file))
    sample = draw(records, args.n, args.seed, args.per_article, kinds)
    for k, r in enumerate(sample, 1):
        print(f"{k:3d} {','.join(r['kinds']):6s} {r['token']} -> {r['split']}\n    {r['context']}")
    print(json.dumps(dict(counts), ensure_ascii=False, indent=2))
    Path(args.out).parent.mkdir(exist_ok=True)
    Path(args.out).write_text(json.dumps({"corpus": str(args.file), "seed": args.seed, "n": len(sample),
                                          "counts": dict(counts), "sample": sample},
                                         ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"wrote {args.out}: set each verdict to ok or wrong, then --score it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
