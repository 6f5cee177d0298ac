"""A learned arbiter over the tagger's events (issue #11, item 3): the rules propose candidate
events, a small linear model keeps or drops each one.

The model is a logistic regression over sparse binary features of one event: its type and
language, the kinds of its actors, and the words of its sentence and of a few tokens either side
of its trigger (each word feature is tied to the event type, because "police" means something
else near a build-up than near a ceasefire). It is trained only on sentences we wrote ourselves
(`pipelines/data/arbiter/train.jsonl`): every event the tagger proposes on a training sentence is
an example, kept when the sentence's labels carry its type. The weights are plain JSON, so loading needs no pickle, and every decision can name
the features that drove it.

    python -m newswatch.pipelines.nlp.arbiter train      # rebuild weights.json from train.jsonl
    python -m newswatch.pipelines.nlp.arbiter explain FILE  # tag FILE, print each decision (JSON)

The arbiter is optional and applied from outside the tagger: `Arbiter().arbitrate(result)`.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from .evaluate import EvalInputError, read_jsonl
from .resources import DATA_DIR, SCHEMA_DIR, word_zipf

ARBITER_DIR = DATA_DIR / "arbiter"
DEFAULT_WEIGHTS = ARBITER_DIR / "weights.json"
DEFAULT_TRAIN = ARBITER_DIR / "train.jsonl"
TRAIN_SCHEMA = SCHEMA_DIR / "lexicons" / "arbiter_train.schema.json"
WEIGHTS_SCHEMA = SCHEMA_DIR / "lexicons" / "arbiter_weights.schema.json"

WINDOW = 3          # tokens either side of the trigger that get their own features
TOP_FEATURES = 6    # features reported per decision
# L2 strength, chosen by 5-fold cross-validation on our own sentences (never on ../shared).
C = 3.0
THRESHOLD = 0.5
# Words at least this frequent (Zipf scale, wordfreq) are function words: "the", "في", "on".
FUNCTION_WORD_ZIPF = 6.0

_TOKEN = re.compile(r"\w+", re.UNICODE)
_ARABIC = re.compile("[\u0621-\u064a]")
_AR_PREFIXES = ("وال", "بال", "فال", "كال", "لل", "ال", "و", "ف", "ب", "ل")
_AR_SUFFIXES = ("ات", "ون", "ين", "ها", "هم", "ه", "ي")


class ArbiterError(ValueError):
    """The weights or the training data cannot be used; the message says how to fix it."""


@dataclass(frozen=True)
class Decision:
    keep: bool
    probability: float
    top_features: dict[str, float]   # feature -> its contribution to the log-odds

    def as_dict(self) -> dict:
        return {"keep": self.keep, "probability": round(self.probability, 4), "top_features": self.top_features}


# --- features ------------------------------------------------------------------------------------

def _stem(token: str) -> str:
    """A light Arabic stem (one proclitic run, one suffix), so "والهجمات" and "هجمات" share a feature."""
    for p in _AR_PREFIXES:
        if token.startswith(p) and len(token) - len(p) >= 3:
            token = token[len(p):]
            break
    for s in _AR_SUFFIXES:
        if token.endswith(s) and len(token) - len(s) >= 3:
            return token[: -len(s)]
    return token


def _words(tokens: Iterable[str], common: dict[str, float] | None = None) -> set[str]:
    """Word features of tokens (and their Arabic stems); function words are left out when
    `common` (word -> Zipf frequency) is given, since they say nothing about an event."""
    out = set()
    for t in tokens:
        if common is not None and common.get(t, 0.0) >= FUNCTION_WORD_ZIPF:
            continue
        out.add(t)
        if _ARABIC.match(t):
            out.add(_stem(t))
    return out


def _sentence_tokens(result, event) -> tuple[list[str], list[int]]:
    """Tokens (match form: lower case, folded Arabic letters) of the event's sentence, and the
    indices of those that fall inside its trigger."""
    if result.bounds is None:
        result.sentences  # noqa: B018 - fills result.bounds
    bounds = result.bounds or []
    if not 0 <= event.sentence < len(bounds):
        return [], []
    start, end = bounds[event.sentence]
    text = result.match_text
    t_start, t_end = event.trigger["start"], event.trigger["end"]
    tokens, inside = [], []
    for m in _TOKEN.finditer(text, start, end):
        if t_start <= result.offsets.to_original(m.start()) < t_end or \
                t_start < result.offsets.to_original(m.end()) <= t_end:
            inside.append(len(tokens))
        tokens.append(m.group())
    return tokens, inside


def event_features(result, event) -> set[str]:
    """The binary features of one candidate event of a TagResult."""
    kind = event.type
    # No feature names the rule or the subtype, nor sets the trigger words apart: which rules our
    # sentences exercise is our choice, not the news's, and a model given them learns it as a prior.
    # Nor whether the rules found actors, places or quantities: our short sentences name them
    # far more often than news does, so their absence would read as a sign of a false event.
    feats = {f"type={kind}", f"lang={result.language}"}
    feats.update(f"{kind}:actor_kind={a.kind}" for a in event.actors)
    tokens, inside = _sentence_tokens(result, event)
    if not tokens:
        return feats
    common = word_zipf(result.language) if result.language in ("ar", "en") else {}
    first, last = (inside[0], inside[-1]) if inside else (0, -1)
    if inside and first <= 1:
        feats.add(f"{kind}:trigger_opens_sentence")
    feats.update(f"{kind}:w={w}" for w in _words(tokens, common))
    if inside:
        feats.update(f"{kind}:before={w}" for w in _words(tokens[max(0, first - WINDOW):first], common))
        feats.update(f"{kind}:after={w}" for w in _words(tokens[last + 1:last + 1 + WINDOW], common))
    return feats


# --- the model -------------------------------------------------------------------------------------

def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


class Arbiter:
    """Keeps or drops a TagResult's events with the linear model stored in `weights_path`."""

    def __init__(self, weights_path: str | Path = DEFAULT_WEIGHTS) -> None:
        path = Path(weights_path)
        if not path.is_file():
            raise ArbiterError(f"no arbiter weights at {path}; build them with "
                               "`python -m newswatch.pipelines.nlp.arbiter train`")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise ArbiterError(f"{path} is not valid JSON ({err.msg}); rebuild it with "
                               "`python -m newswatch.pipelines.nlp.arbiter train`") from None
        _validate(data, WEIGHTS_SCHEMA, str(path))
        self.path = path
        self.bias: float = data["bias"]
        self.threshold: float = data["threshold"]
        self.weights: dict[str, float] = data["weights"]
        self.data_sha256: str = data["data_sha256"]

    def decide(self, result, event) -> Decision:
        contributions = {f: self.weights[f] for f in event_features(result, event) if f in self.weights}
        p = _sigmoid(self.bias + sum(contributions.values()))
        top = sorted(contributions.items(), key=lambda kv: (-abs(kv[1]), kv[0]))[:TOP_FEATURES]
        return Decision(p >= self.threshold, p, {f: round(w, 4) for f, w in top})

    def arbitrate(self, result):
        """(the result with only the kept events, one Decision per original event, in order)."""
        decisions = [self.decide(result, e) for e in result.events]
        kept = [e for e, d in zip(result.events, decisions, strict=True) if d.keep]
        return replace(result, events=kept), decisions


# --- data and training ------------------------------------------------------------------------

def _validate(data, schema_path: Path, where: str) -> None:
    import jsonschema

    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    try:
        jsonschema.validate(data, schema)
    except jsonschema.ValidationError as err:
        at = "/".join(str(p) for p in err.absolute_path) or "(top level)"
        raise ArbiterError(f"{where} is invalid at {at}: {err.message}. "
                           f"Fix it so it matches {schema_path.relative_to(SCHEMA_DIR.parent)}.") from None


def load_training(path: str | Path = DEFAULT_TRAIN) -> list[dict]:
    """The labelled sentences, each line validated against schemas/lexicons/arbiter_train.schema.json."""
    items, seen = [], set()
    try:
        for number, item in enumerate(read_jsonl(path, ()), 1):
            _validate(item, TRAIN_SCHEMA, f"{path}, item {number}")
            if item["id"] in seen:
                raise ArbiterError(f"{path}, item {number}: id {item['id']!r} is used twice; ids must be unique")
            seen.add(item["id"])
            items.append(item)
    except EvalInputError as err:
        raise ArbiterError(str(err)) from None
    return items


def examples(items: list[dict], tagger=None) -> list[tuple[set[str], int]]:
    """One (features, kept?) pair per event the tagger proposes on a training sentence."""
    from .tagging import default_tagger

    tagger = tagger or default_tagger()
    out = []
    for item in items:
        result = tagger.tag(item["text"], item["lang"])
        gold = set(item["labels"])
        out.extend((event_features(result, e), int(e.type in gold)) for e in result.events)
    return out


def fit(pairs: list[tuple[set[str], int]], c: float = C) -> tuple[float, dict[str, float]]:
    """Bias and weights of an L2 logistic regression (liblinear: deterministic for the same input)."""
    from sklearn.linear_model import LogisticRegression

    from scipy.sparse import csr_matrix

    names = sorted({f for feats, _ in pairs for f in feats})
    if len({y for _, y in pairs}) < 2:
        raise ArbiterError("the training sentences give only kept (or only dropped) events; "
                           "add sentences of the other kind to train.jsonl")
    index = {f: i for i, f in enumerate(names)}

    rows, cols = [], []
    for r, (feats, _) in enumerate(pairs):
        for f in sorted(feats):
            rows.append(r)
            cols.append(index[f])
    x = csr_matrix(([1.0] * len(rows), (rows, cols)), shape=(len(pairs), len(names)))
    y = [label for _, label in pairs]
    model = LogisticRegression(C=c, solver="liblinear", random_state=0, max_iter=1000)
    model.fit(x, y)
    weights = {f: round(float(w), 5) for f, w in zip(names, model.coef_[0], strict=True) if abs(w) >= 1e-4}
    return round(float(model.intercept_[0]), 5), weights


def train(data_path: str | Path = DEFAULT_TRAIN, out_path: str | Path = DEFAULT_WEIGHTS, tagger=None) -> dict:
    """Rebuild the weights file from the training sentences; the same data gives the same bytes."""
    items = load_training(data_path)
    pairs = examples(items, tagger)
    bias, weights = fit(pairs)
    doc = {"version": 1, "data_sha256": hashlib.sha256(Path(data_path).read_bytes()).hexdigest(),
           "sentences": len(items), "examples": len(pairs), "kept_examples": sum(y for _, y in pairs),
           "c": C, "threshold": THRESHOLD, "bias": bias, "weights": dict(sorted(weights.items()))}
    Path(out_path).write_text(json.dumps(doc, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    return doc


def _explain(path: str, weights: str, lang: str | None) -> dict:
    from .tagging import tag

    text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8", errors="replace")
    result = tag(text, lang)
    _, decisions = Arbiter(weights).arbitrate(result)
    return {"language": result.language,
            "events": [{**e.as_dict(), "arbiter": d.as_dict()} for e, d in zip(result.events, decisions, strict=True)]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m newswatch.pipelines.nlp.arbiter", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train", help="rebuild the weights from the training sentences")
    p.add_argument("--data", default=str(DEFAULT_TRAIN))
    p.add_argument("--out", default=str(DEFAULT_WEIGHTS))
    p = sub.add_parser("explain", help="tag a text file and print each event with the arbiter's decision (JSON)")
    p.add_argument("file", nargs="?", default="-")
    p.add_argument("--weights", default=str(DEFAULT_WEIGHTS))
    p.add_argument("--lang")
    args = parser.parse_args(argv)
    try:
        if args.command == "train":
            doc = train(args.data, args.out)
            print(f"{args.out}: {doc['examples']} events from {doc['sentences']} sentences "
                  f"({doc['kept_examples']} kept), {len(doc['weights'])} weights")
        else:
            print(json.dumps(_explain(args.file, args.weights, args.lang), ensure_ascii=False, indent=2))
    except (ArbiterError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
