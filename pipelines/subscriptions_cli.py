"""`newswatch subscribe` and `newswatch subscriptions list|show|rm`."""
from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from pathlib import Path

from pydantic import ValidationError

from newswatch.pipelines.durations import parse_duration
from newswatch.pipelines.model import Subscription
from newswatch.pipelines.settings import VAR_DIR

SECRETS_DIR = VAR_DIR / "secrets"


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()] if value else []


def subscription_from_args(args: argparse.Namespace) -> Subscription:
    """The subscription the flags describe; pydantic's errors are turned into one sentence each."""
    near = None
    if args.near:
        try:
            lat, lon = (float(x) for x in args.near.split(","))
        except ValueError as err:
            raise ValueError(f"--near takes LAT,LON (e.g. 35.33,40.14), not {args.near!r}") from err
        near = {"lat": lat, "lon": lon}
    channels = []
    for url in args.webhook or []:
        secret = Path(args.webhook_secret_file).read_text().strip() if args.webhook_secret_file else None
        channels.append({"type": "webhook", "url": url, "secret": secret})
    channels += [{"type": "slack", "url": u} for u in args.slack or []]
    channels += [{"type": "email", "to": a} for a in args.email or []]
    channels += [{"type": "kafka", "topic": t} for t in args.kafka_topic or []]
    return Subscription(
        owner=args.owner, name=args.name, types=_split(args.types), subtypes=_split(args.subtypes),
        actors=_split(args.actors), places=_split(args.places), countries=_split(args.countries), near=near,
        radius_km=args.radius_km, languages=_split(args.languages), min_confidence=args.min_confidence,
        query=args.query, channels=channels, realert_s=parse_duration(args.realert), digest=args.digest)


def describe_validation_error(err: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'subscription'}: {e['msg']}" for e in err.errors())


def _save_generated_keys(sub: Subscription, generated: dict[int, str]) -> list[Path]:
    """Webhook keys newswatch made are written to files only the user can read, never printed."""
    paths = []
    SECRETS_DIR.mkdir(parents=True, exist_ok=True)
    for i, key in generated.items():
        path = SECRETS_DIR / f"{sub.id}-webhook-{i}.key"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(key + "\n")
        paths.append(path)
    return paths


def _service():
    from newswatch.pipelines.alerting.service import SubscriptionService
    from newswatch.pipelines.settings import load_settings
    from newswatch.pipelines.streaming import prepare

    settings = load_settings()
    prepare(settings)
    return SubscriptionService(settings)


def cmd_subscribe(args: argparse.Namespace, user_error) -> int:
    from newswatch.pipelines.alerting.service import SubscriptionError

    try:
        sub = subscription_from_args(args)
        stored, generated = _service().save(sub)
    except ValidationError as err:
        raise user_error(f"the subscription is not valid: {describe_validation_error(err)}") from None
    except (ValueError, OSError, SubscriptionError) as err:
        raise user_error(str(err)) from None
    for path in _save_generated_keys(stored, generated):
        print(f"webhook signing key written to {path} (give it to the receiver; it is not shown again)",
              file=sys.stderr)
    print(stored.model_dump_json() if args.json else stored.id)
    return 0


def _row(sub: Subscription) -> str:
    what = ",".join(sub.types) or "any type"
    where = ",".join(sub.countries + sub.places) or ("near" if sub.near else "anywhere")
    how = ",".join(c.type for c in sub.channels) or "-"
    return f"{sub.id:<34}{sub.owner:<14}{sub.name[:28]:<30}{what[:26]:<28}{where[:20]:<22}{how}"


def cmd_list(args: argparse.Namespace, user_error) -> int:
    subs = _service().list(args.owner)
    if args.json:
        for sub in subs:
            print(sub.model_dump_json())
        return 0
    print(f"{'id':<34}{'owner':<14}{'name':<30}{'types':<28}{'where':<22}channels")
    for sub in sorted(subs, key=lambda s: (s.owner, s.name)):
        print(_row(sub))
    print(f"{len(subs)} subscription(s)")
    return 0


def cmd_show(args: argparse.Namespace, user_error) -> int:
    sub = _service().get(args.id)
    if sub is None:
        raise user_error(f"no subscription {args.id}; `newswatch subscriptions list` shows the ids")
    print(json.dumps(sub.model_dump(mode="json"), indent=2, ensure_ascii=False))
    return 0


def cmd_rm(args: argparse.Namespace, user_error) -> int:
    if not _service().delete(args.id):
        raise user_error(f"no subscription {args.id}; `newswatch subscriptions list` shows the ids")
    print(f"removed {args.id}")
    return 0


def add_commands(subparsers, user_error: type[Exception]) -> None:
    def bind(fn):
        return lambda args: fn(args, user_error)

    p = subparsers.add_parser("subscribe", help="create an alert subscription; prints its id")
    p.add_argument("--name", required=True)
    p.add_argument("--owner", default=os.environ.get("NEWSWATCH_USER") or getpass.getuser())
    p.add_argument("--types", help="offensive,ceasefire,troop_buildup (default: all)")
    p.add_argument("--subtypes", help="e.g. air_strike,reinforcement")
    p.add_argument("--countries", help="ISO codes, e.g. SY,IQ")
    p.add_argument("--actors", help='canonical names, e.g. "Syrian Army,Islamic State"')
    p.add_argument("--places", help='canonical names, e.g. "Deir ez-Zor,Raqqa"')
    p.add_argument("--near", help="LAT,LON of a point (with --radius-km)")
    p.add_argument("--radius-km", type=float)
    p.add_argument("--languages", help="e.g. ar,en")
    p.add_argument("--min-confidence", type=float, default=0.0)
    p.add_argument("--query", help="full text over the article's title and text (search syntax)")
    p.add_argument("--webhook", action="append", help="URL; JSON POST signed with HMAC-SHA256")
    p.add_argument("--webhook-secret-file", help="file holding the HMAC key (default: newswatch makes one)")
    p.add_argument("--slack", action="append", help="Slack-compatible incoming webhook URL")
    p.add_argument("--email", action="append", help="e-mail address")
    p.add_argument("--kafka-topic", action="append", help="Kafka topic to produce the alerts to")
    p.add_argument("--realert", default="10m", help="repeats within this window are throttled (default 10m)")
    p.add_argument("--digest", action="store_true", help="fold throttled repeats into one digest per window")
    p.add_argument("--json", action="store_true", help="print the whole subscription")
    p.set_defaults(func=bind(cmd_subscribe))

    subs = subparsers.add_parser("subscriptions", help="list, show or remove subscriptions")
    actions = subs.add_subparsers(dest="subscriptions_command", required=True)
    p = actions.add_parser("list")
    p.add_argument("--owner", help="only this owner's")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=bind(cmd_list))
    p = actions.add_parser("show")
    p.add_argument("id")
    p.set_defaults(func=bind(cmd_show))
    p = actions.add_parser("rm")
    p.add_argument("id")
    p.set_defaults(func=bind(cmd_rm))
