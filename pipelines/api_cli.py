"""`newswatch api` and `newswatch token create|list|revoke`."""
from __future__ import annotations

import argparse
import sys


def _settings():
    from newswatch.pipelines.settings import load_settings

    return load_settings()


def _token_store(settings):
    from newswatch.api.auth import TokenStore
    from newswatch.connectors.search import SearchBackend

    store = TokenStore(SearchBackend(settings.search), settings.api.tokens_index)
    store.ensure_index()
    return store


def _search_down(settings, err: Exception) -> str:
    return (f"the search engine at {settings.search.url} did not answer ({type(err).__name__}): start it "
            "(`newswatch stack up`) or set search.url, then try again")


def cmd_token_create(args: argparse.Namespace, user_error) -> int:
    from newswatch.api.auth import TokenError, check_user_name

    settings = _settings()
    try:
        check_user_name(args.user)
        token = _token_store(settings).create(args.user, admin=args.admin)
    except TokenError as err:
        raise user_error(str(err)) from None
    except Exception as err:  # noqa: BLE001 - a search engine that cannot be reached: say so
        raise user_error(_search_down(settings, err)) from None
    print(token)
    role = " (admin: sees everyone's objects)" if args.admin else ""
    print(f"token for {args.user}{role} created. "
          f"It is shown this once: only its SHA-256 is stored ({settings.api.tokens_index}). Send it as "
          "'Authorization: Bearer <token>', or paste it into the page's sign-in.", file=sys.stderr)
    return 0


def cmd_token_list(args: argparse.Namespace, user_error) -> int:
    settings = _settings()
    try:
        rows = _token_store(settings).users()
    except Exception as err:  # noqa: BLE001
        raise user_error(_search_down(settings, err)) from None
    print(f"{'user':<24}{'admin':<7}{'created_at':<22}token sha256 (first 12)")
    for row in rows:
        print(f"{row['user']:<24}{'yes' if row.get('admin') else 'no':<7}{row.get('created_at', '-'):<22}"
              f"{row['token_hash'][:12]}")
    print(f"{len(rows)} token(s)")
    return 0


def cmd_token_revoke(args: argparse.Namespace, user_error) -> int:
    settings = _settings()
    try:
        removed = _token_store(settings).revoke(args.user)
    except Exception as err:  # noqa: BLE001
        raise user_error(_search_down(settings, err)) from None
    if not removed:
        raise user_error(f"no token of user {args.user!r}; `newswatch token list` shows the users")
    print(f"revoked {removed} token(s) of {args.user} (a running API stops taking them within 10 s)")
    return 0


def cmd_api(args: argparse.Namespace, user_error) -> int:
    from newswatch.api.server import serve

    settings = _settings()
    host = args.host or settings.api.host
    port = settings.api.port if args.port is None else args.port
    if not 0 <= port <= 65535:
        raise user_error(f"--port {port} is not a TCP port: give 1-65535")
    return serve(settings, host, port)


def add_commands(subparsers, user_error: type[Exception]) -> None:
    """`user_error` is the CLI's UserError, passed in (see pipelines/dlq.py add_commands for why)."""
    def bind(fn):
        return lambda args: fn(args, user_error)

    p = subparsers.add_parser("api", help="serve the REST API and the analysts' page (default http://127.0.0.1:8080/)")
    p.add_argument("--host", help="address to listen on (default: api.host, 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default: api.port, 8080)")
    p.set_defaults(func=bind(cmd_api))

    tokens = subparsers.add_parser("token", help="API tokens: create (shown once), list, revoke")
    actions = tokens.add_subparsers(dest="token_command", required=True)
    p = actions.add_parser("create", help="print a new API token for a user, once; only its hash is stored")
    p.add_argument("--user", required=True, help="the user the token acts as (owner of their subscriptions)")
    p.add_argument("--admin", action="store_true", help="the token sees and edits everyone's objects")
    p.set_defaults(func=bind(cmd_token_create))
    p = actions.add_parser("list", help="users with tokens (never the tokens)")
    p.set_defaults(func=bind(cmd_token_list))
    p = actions.add_parser("revoke", help="delete every token of a user")
    p.add_argument("--user", required=True)
    p.set_defaults(func=bind(cmd_token_revoke))
