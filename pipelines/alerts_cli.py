"""`newswatch alerts deliver | list | failed`."""
from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime

from newswatch.pipelines.dlq import SINCE_HELP, parse_since


def _records():
    from newswatch.connectors.alert_records import AlertRecords
    from newswatch.connectors.search import SearchBackend
    from newswatch.pipelines.settings import load_settings
    from newswatch.pipelines.streaming import prepare

    settings = load_settings()
    prepare(settings)
    return AlertRecords(SearchBackend(settings.search))


def _print(records: list[dict], as_json: bool) -> None:
    if as_json:
        for r in records:
            print(json.dumps({k: v for k, v in r.items() if k != "digest_alerts"}, ensure_ascii=False))
        return
    print(f"{'decided_at':<22}{'status':<11}{'subscription':<26}{'event':<34}{'latency':>9}  last error")
    for r in records:
        event = r.get("event") or {}
        what = f"{event.get('type', '-')}/{event.get('subtype', '-')}" if r.get("throttle") != "digest" \
            else f"digest of {len(r.get('digest_alerts') or [])}"
        latency = f"{r['latency_ms'] / 1000:.2f}s" if r.get("latency_ms") is not None else "-"
        print(f"{r.get('decided_at', '-'):<22}{r.get('status', '-'):<11}{r.get('subscription_name', '-')[:24]:<26}"
              f"{what[:32]:<34}{latency:>9}  {(r.get('last_error') or '')[:60]}")
    print(f"{len(records)} alert(s)")


def cmd_list(args: argparse.Namespace, user_error) -> int:
    try:
        since = parse_since(args.since, datetime.now(UTC))
    except ValueError as err:
        raise user_error(str(err)) from None
    query = {"range": {"decided_at": {"gte": since.strftime("%Y-%m-%dT%H:%M:%SZ")}}} if since else {"match_all": {}}
    _print(_records().find(query, sort=[{"decided_at": "desc"}], limit=args.limit), args.json)
    return 0


def cmd_failed(args: argparse.Namespace, user_error) -> int:
    _print(_records().find({"term": {"status": "failed"}}, sort=[{"decided_at": "desc"}], limit=args.limit),
           args.json)
    return 0


def cmd_deliver(args: argparse.Namespace, user_error) -> int:
    from newswatch.pipelines.alerting.worker import deliver
    from newswatch.pipelines.settings import load_settings

    return deliver(load_settings())


def add_commands(subparsers, user_error: type[Exception]) -> None:
    def bind(fn):
        return lambda args: fn(args, user_error)

    alerts = subparsers.add_parser("alerts", help="deliver alerts (the worker), or list them")
    actions = alerts.add_subparsers(dest="alerts_command", required=True)
    p = actions.add_parser("deliver", help="the delivery worker (blocks; Ctrl-C stops it)")
    p.set_defaults(func=bind(cmd_deliver))
    p = actions.add_parser("list", help="alerts and their delivery status, newest first")
    p.add_argument("--since", help=SINCE_HELP)
    p.add_argument("--json", action="store_true")
    p.add_argument("--limit", type=int, default=200)
    p.set_defaults(func=bind(cmd_list))
    p = actions.add_parser("failed", help="alerts whose delivery failed after the last retry (also on alerts.dlq)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--limit", type=int, default=200)
    p.set_defaults(func=bind(cmd_failed))
