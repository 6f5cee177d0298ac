"""The `newswatch` command line."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .alerts_cli import add_commands as add_alert_commands
from .api_cli import add_commands as add_api_commands
from .dlq import add_commands as add_dlq_commands
from .ops import add_commands as add_ops_commands
from .kibana import add_commands as add_kibana_commands
from .subscriptions_cli import add_commands as add_subscription_commands
from .nlp.evaluate import EVENT_TYPES, HALVES, EvalInputError, read_jsonl, score_labels, score_normalization, split_half
from .nlp.resources import DataFileError

EVAL_FORMAT = 'one JSON object per line: {"id", "lang"?, "text", "labels": [...]}'
EVAL_ARGS_FORMAT = ('one JSON object per line: {"id", "lang"?, "text", "events": [{"type", "trigger", "actors", '
                    '"places", "countries"?}]}, or a .json document like the seed article\'s gold file')


def _read_text(source: str) -> str:
    """Text of FILE or of standard input ("-"); bad UTF-8 is replaced, never fatal."""
    if source == "-":
        data = sys.stdin.buffer.read()
    else:
        path = Path(source)
        if not path.is_file():
            raise UserError(f"no such file: {source}. Give a text file, or - to read standard input.")
        data = path.read_bytes()
    return data.decode("utf-8", errors="replace")


class UserError(Exception):
    """A mistake the user can fix; printed without a traceback."""


def cmd_normalize(args: argparse.Namespace) -> int:
    from .nlp.normalize import normalize

    result = normalize(_read_text(args.file))
    sys.stdout.write(result.match if args.match else result.display)
    if not result.display.endswith("\n"):
        sys.stdout.write("\n")
    return 0


def cmd_tag(args: argparse.Namespace) -> int:
    from .nlp.tagging import tag

    result = tag(_read_text(args.file), language=args.lang)
    if args.json:
        print(json.dumps(result.as_dict(), ensure_ascii=False, indent=2))
        return 0
    print(f"language: {result.language} (confidence {result.language_confidence:.2f})")
    if not result.events:
        print("no offensive, ceasefire or troop build-up reported")
    for ev in result.events:
        actors = ", ".join(a.canonical for a in ev.actors) or "-"
        places = ", ".join(p.canonical for p in ev.locations) or "-"
        qty = ", ".join(f"{q.as_dict()['value']} {q.unit}" for q in ev.quantities) or "-"
        print(f"[sentence {ev.sentence}] {ev.type}/{ev.subtype}  trigger «{ev.trigger['text']}» "
              f"@{ev.trigger['start']}-{ev.trigger['end']}  rule {ev.rule}  conf {ev.confidence:.2f}")
        print(f"    actors: {actors} | places: {places} | quantities: {qty}")
    return 0


def _load_eval_items(path: str) -> list[dict]:
    if not Path(path).is_file():
        raise UserError(f"no such file: {path}. `newswatch eval` reads {EVAL_FORMAT}.")
    items = list(read_jsonl(path, ("text", "labels")))
    for n, item in enumerate(items, 1):
        unknown = set(item["labels"]) - set(EVENT_TYPES)
        if unknown:
            raise UserError(f"{path}: item {n} has unknown label(s) {sorted(unknown)}; use {list(EVENT_TYPES)}")
    if not items:
        raise UserError(f"{path} holds no items; it should hold {EVAL_FORMAT}")
    return items


def _half(items: list[dict], args: argparse.Namespace) -> list[dict]:
    """All items, or one half of them when --half is given (split by a hash of the id)."""
    if not args.half:
        return items
    try:
        chosen = split_half(items, args.half)
    except EvalInputError as err:
        raise UserError(f"{args.file}: {err}. --half needs an \"id\" on every line.") from None
    if not chosen:
        raise UserError(f"{args.file}: the {args.half} half is empty; give a file with more items")
    return chosen


def cmd_eval(args: argparse.Namespace) -> int:
    items = _half(_load_eval_items(args.file), args)
    gold = [set(i["labels"]) for i in items]
    if args.baseline:
        from .nlp.baseline import cross_validated_predictions

        predicted = cross_validated_predictions([i["text"] for i in items], gold)
    else:
        from .nlp.tagging import tag

        predicted = [tag(i["text"], i.get("lang")).labels for i in items]
    scores = score_labels(gold, predicted)
    if args.json:
        print(json.dumps(scores))
        return 0
    print(f"{'class':<15}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}")
    for name, c in scores["per_class"].items():
        print(f"{name:<15}{c['precision']:>10.3f}{c['recall']:>10.3f}{c['f1']:>10.3f}{c['support']:>10}")
    half = f" ({args.half} half)" if args.half else ""
    print(f"macro-F1 {scores['macro_f1']:.3f} over {scores['n']} items{half}" + (" (TF-IDF + LR baseline, 5-fold CV)" if args.baseline else ""))
    return 0


def cmd_eval_normalize(args: argparse.Namespace) -> int:
    if not Path(args.file).is_file():
        raise UserError(f"no such file: {args.file}. It should hold lines {{\"id\", \"text\", \"fixes\", \"keep\"}}.")
    score = score_normalization(_half(list(read_jsonl(args.file, ("text",))), args)).as_dict()
    if args.json:
        print(json.dumps(score))
        return 0
    fx, kp = score["fixes"], score["keeps"]
    print(f"items {score['n']}{f' ({args.half} half)' if args.half else ''}: fixes {fx['correct']}/{fx['total']} right, keeps {kp['kept']}/{kp['total']} kept")
    return 0


def cmd_eval_args(args: argparse.Namespace) -> int:
    from .nlp.evaluate import half_of
    from .nlp.evaluate_args import ARGUMENT_KINDS, load_gold, score_arguments
    from .nlp.tagging import tag

    try:
        docs = load_gold(args.file)
    except EvalInputError as err:
        raise UserError(f"{err}. `newswatch eval-args` reads {EVAL_ARGS_FORMAT}.") from None
    if args.half:
        docs = [d for d in docs if half_of(d.id) == args.half]
        if not docs:
            raise UserError(f"{args.file}: the {args.half} half is empty; give a file with more items")
    score = score_arguments(docs, lambda d: [e.as_dict() for e in tag(d.text, d.lang).events])
    result = score.as_dict()
    if args.json:
        print(json.dumps({**result, "errors": score.errors} if args.errors else result, ensure_ascii=False))
        return 0
    if args.errors:
        for err in score.errors:
            print(json.dumps(err, ensure_ascii=False))
    ev = result["events"]
    print(f"{'argument':<15}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}")
    for kind in ARGUMENT_KINDS:
        c = result[kind]
        print(f"{kind:<15}{c['precision']:>10.3f}{c['recall']:>10.3f}{c['f1']:>10.3f}{c['support']:>10}")
    half = f" ({args.half} half)" if args.half else ""
    print(f"events by trigger span{half}: {ev['matched']}/{ev['gold']} gold events found, "
          f"{ev['matched']}/{ev['predicted']} predicted events match one; arguments scored on the matched pairs")
    return 0


def cmd_stack(args: argparse.Namespace) -> int:
    from newswatch.connectors import stack
    from .settings import load_settings

    all_settings = load_settings()
    settings = all_settings.stack
    if args.action == "up":
        print(f"starting Kafka and OpenSearch under {settings.home} (first run downloads jars from Maven Central)...")
        stack.up(settings, elasticsearch=args.elasticsearch)
    elif args.action == "down":
        stack.down(settings)
        print("stack stopped")
        return 0
    rows = stack.status(settings)
    print(f"{'component':<12}{'port':>7}{'pid':>9}{'rss MB':>9}  state")
    for c in rows:
        print(f"{c.name:<12}{c.port:>7}{(c.pid or '-')!s:>9}{(c.rss_mb or '-')!s:>9}  {'running' if c.alive else 'stopped'}")
    if args.action == "status":
        from .ops import consumer_lag_report

        print()
        print(consumer_lag_report(all_settings))
    return 0 if all(c.alive for c in rows) or args.action == "status" else 1


def _partition_list(value: str) -> list[int]:
    try:
        return [int(p) for p in value.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--partitions takes partition numbers separated by commas, e.g. 0,2; got "
                                         f"{value!r}") from None


def cmd_run(args: argparse.Namespace) -> int:
    import logging

    from .logs import configure_logging
    from .settings import load_settings
    from .streaming import run

    configure_logging(logging.INFO if args.verbose else logging.WARNING)
    settings = load_settings()
    if args.worker:  # the Beam job itself, started and watched by the supervisor below
        from newswatch.connectors.metrics import serve_worker_metrics

        # With LOOPBACK the DoFns run in this process: it serves their metrics (and the lag)
        serve_worker_metrics(settings.pipeline.metrics_port, settings.kafka, settings.pipeline.runner)
        run(settings, partitions=args.partitions)
        return 0
    from newswatch.connectors import kafka

    from .streaming import prepare
    from .supervisor import supervise

    prepare(settings)
    if args.from_beginning:
        kafka.reset_group(settings.kafka, settings.kafka.topic)
    print(f"newswatch: streaming {settings.kafka.topic}@{settings.kafka.bootstrap} -> "
          f"{settings.search.backend} {settings.search.url} on {settings.pipeline.runner} (Ctrl-C stops)", flush=True)
    return supervise(settings)


def cmd_produce(args: argparse.Namespace) -> int:
    from newswatch.connectors import kafka

    from .settings import load_settings

    settings = load_settings().kafka
    path = Path(args.file)
    if not path.is_file():
        raise UserError(f"no such file: {args.file}. `newswatch produce` sends each line of a JSONL file as one message.")
    lines = [line for line in path.read_bytes().splitlines() if line.strip()]
    kafka.ensure_topics(settings)
    kafka.produce(settings, lines, topic=args.topic)
    print(f"sent {len(lines)} message(s) to {args.topic or settings.topic}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo
    from .settings import load_settings

    return run_demo(load_settings(), Path(args.file), timeout_s=args.timeout)


def cmd_chaos(args: argparse.Namespace) -> int:
    from .chaos import run_chaos
    from .settings import load_settings

    if args.items < 8:
        raise UserError("--items must be at least 8 (four chunks, each with valid and malformed messages)")
    result = run_chaos(load_settings(), args.items, timeout_s=args.timeout)
    print(json.dumps(result))
    return 0 if result["lost"] == 0 and result["duplicates"] == 0 else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="newswatch", description="Event monitoring for Arabic and English news.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("normalize", help="print the normalized (display) text")
    p.add_argument("file", nargs="?", default="-", help="text file, or - for standard input (default)")
    p.add_argument("--match", action="store_true", help="print the match form (folded letters, lower case)")
    p.set_defaults(func=cmd_normalize)

    p = sub.add_parser("tag", help="detect language and tag events in one article")
    p.add_argument("file", nargs="?", default="-", help="text file, or - for standard input (default)")
    p.add_argument("--json", action="store_true", help="print JSON (schemas/tag_result.schema.json)")
    p.add_argument("--lang", help="skip detection and treat the text as this ISO 639-1 language")
    p.set_defaults(func=cmd_tag)

    p = sub.add_parser("eval", help="score the tagger on a labelled JSONL file", description=f"FILE: {EVAL_FORMAT}")
    p.add_argument("file")
    p.add_argument("--json", action="store_true")
    p.add_argument("--baseline", action="store_true", help="score a TF-IDF + logistic regression baseline (5-fold CV) instead")
    p.add_argument("--half", choices=HALVES, help="score one half only, split by sha256(id): first byte even = tuning, odd = checking")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("eval-normalize", help="score artefact repair on a normalization gold JSONL file")
    p.add_argument("file")
    p.add_argument("--json", action="store_true")
    p.add_argument("--half", choices=HALVES, help="score one half only, split by sha256(id): first byte even = tuning, odd = checking")
    p.set_defaults(func=cmd_eval_normalize)

    p = sub.add_parser("eval-args", help="score event arguments (actors, places, countries) against gold events",
                       description=f"FILE: {EVAL_ARGS_FORMAT}")
    p.add_argument("file")
    p.add_argument("--json", action="store_true")
    p.add_argument("--errors", action="store_true", help="also list each missed, extra or wrongly argued event")
    p.add_argument("--half", choices=HALVES, help="score one half only, split by sha256(id): first byte even = tuning, odd = checking")
    p.set_defaults(func=cmd_eval_args)

    p = sub.add_parser("stack", help="fetch, start, stop or inspect the local Kafka + OpenSearch stack")
    p.add_argument("action", choices=["up", "down", "status"])
    p.add_argument("--elasticsearch", action="store_true",
                   help="also start Elasticsearch (integ-test distribution) for the elasticsearch backend")
    p.set_defaults(func=cmd_stack)

    p = sub.add_parser("run", help="run the streaming pipeline (Kafka -> tagging -> search engine)")
    p.add_argument("--from-beginning", action="store_true", help="rewind the consumer group first (a replay)")
    p.add_argument("--verbose", action="store_true")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)  # the supervised Beam job
    p.add_argument("--partitions", type=_partition_list, help=argparse.SUPPRESS)  # the worker's share: "0,2"
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("produce", help="send a JSONL file of news items to Kafka, one message per line")
    p.add_argument("file")
    p.add_argument("--topic", help="topic (default: kafka.topic)")
    p.set_defaults(func=cmd_produce)

    p = sub.add_parser("demo", help="start the stack, stream the bundled sample news through the pipeline, show the events")
    p.add_argument("--file", default=str(Path(__file__).resolve().parent.parent / "deploy" / "sample" / "news.jsonl"))
    p.add_argument("--timeout", type=float, default=300, help="seconds to wait for the pipeline (default 300)")
    p.set_defaults(func=cmd_demo)
    p = sub.add_parser("chaos", help="restart Kafka and the search engine, kill the worker, mid-stream; count the "
                       "result (JSON: sent, indexed, duplicates, dead_lettered, lost)")
    p.add_argument("--items", type=int, default=2000, help="messages to send, 1 in 10 malformed (default 2000)")
    p.add_argument("--timeout", type=float, default=900, help="seconds to wait at each step (default 900)")
    p.set_defaults(func=cmd_chaos)
    add_dlq_commands(sub, UserError)
    add_ops_commands(sub, UserError)
    add_subscription_commands(sub, UserError)
    add_alert_commands(sub, UserError)
    add_api_commands(sub, UserError)
    add_kibana_commands(sub, UserError)
    return parser


def _stack_error() -> type[Exception]:
    from newswatch.connectors.stack import StackError

    return StackError


def _settings_error() -> type[Exception]:
    """Wrong settings, or settings the cluster refuses (TLS, SASL login); never holds a secret."""
    from .settings import SettingsError

    return SettingsError


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (UserError, EvalInputError, DataFileError, _stack_error(), _settings_error()) as err:
        print(f"newswatch: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
