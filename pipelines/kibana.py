"""`newswatch kibana import`: the saved objects under deploy/kibana/ (Kibana 8.x) or
deploy/opensearch-dashboards/ (OpenSearch Dashboards) sent to the saved-objects import API,
overwriting earlier copies (the objects have fixed ids, so a second import replaces the first).

Reading and adapting the objects and building the request are pure functions; only `send` talks
to the network (the standard library's urllib: one multipart POST needs no HTTP client)."""
from __future__ import annotations

import argparse
import base64
import binascii
import json
import os
import re
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parent.parent  # not from .settings: the CLI imports this module early
ASSETS = {"kibana": REPO_DIR / "deploy" / "kibana" / "newswatch.ndjson",
          "opensearch-dashboards": REPO_DIR / "deploy" / "opensearch-dashboards" / "newswatch.ndjson"}
PRODUCT_NAMES = {"kibana": "Kibana", "opensearch-dashboards": "OpenSearch Dashboards"}
XSRF_HEADERS = {"kibana": "kbn-xsrf", "opensearch-dashboards": "osd-xsrf"}
# The data views are written for the default index names; other names in settings.search are
# put into the titles on import. Data views (index patterns) are found by these ids.
DATA_VIEW_IDS = {"newswatch-articles": "articles_index", "newswatch-events": "events_index",
                 "newswatch-alerts": "alerts_index"}
DASHBOARD_ID = "newswatch-dashboard"
SPACE_ID = re.compile(r"^[a-z0-9_-]+$")
PASSWORD_ENV = "NEWSWATCH_KIBANA_PASSWORD"
API_KEY_ENV = "NEWSWATCH_KIBANA_API_KEY"
TIMEOUT_S = 60


class KibanaImportError(ValueError):
    """A mistake the user can fix, or a refusal by the server; the message says which and what to do."""


@dataclass(frozen=True)
class Target:
    product: str            # "kibana" or "opensearch-dashboards"
    url: str                # base address, no trailing slash, no credentials
    space: str | None = None

    @property
    def name(self) -> str:
        return PRODUCT_NAMES[self.product]

    def api(self, path: str) -> str:
        prefix = f"/s/{self.space}" if self.space and self.space != "default" else ""
        return f"{self.url}{prefix}{path}"


# ---- pure: the objects -------------------------------------------------------------------------

def read_objects(path: Path) -> list[dict]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise KibanaImportError(f"cannot read the saved objects at {path} ({err.strerror}): give an existing "
                                "NDJSON file with --file, or restore deploy/ from the repository") from None
    objects = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            raise KibanaImportError(f"{path} line {number} is not JSON ({err.msg}): regenerate the file with "
                                    "python deploy/kibana/build_assets.py") from None
        if not isinstance(obj, dict) or not {"id", "type", "attributes"} <= obj.keys():
            raise KibanaImportError(f"{path} line {number} is not a saved object (it needs id, type and "
                                    "attributes): regenerate the file with python deploy/kibana/build_assets.py")
        objects.append(obj)
    if not objects:
        raise KibanaImportError(f"{path} holds no saved objects: regenerate it with python deploy/kibana/build_assets.py")
    return objects


def retarget(objects: list[dict], index_names: dict[str, str]) -> list[dict]:
    """The objects with each newswatch data view's title set to `<index name>*` (the index and its
    dated copies), for the index names given by settings key (articles_index, ...)."""
    out = []
    for obj in objects:
        setting = DATA_VIEW_IDS.get(obj["id"]) if obj["type"] == "index-pattern" else None
        if setting and setting in index_names:
            obj = {**obj, "attributes": {**obj["attributes"], "title": f"{index_names[setting]}*"}}
        out.append(obj)
    return out


def to_ndjson(objects: list[dict]) -> bytes:
    return "".join(json.dumps(o, ensure_ascii=False, separators=(",", ":")) + "\n" for o in objects).encode("utf-8")


# ---- pure: the request ---------------------------------------------------------------------------

def base_url(url: str) -> str:
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise KibanaImportError(f"--url {redact(url)!r} is not an http(s) address: give the address you open "
                                "Kibana at, e.g. https://kibana.example.org:5601")
    if parts.username or parts.password:
        raise KibanaImportError("--url holds a user name or password: give them with --user and --password "
                                f"(or ${PASSWORD_ENV}) instead, so they stay out of logs")
    if parts.query or parts.fragment:
        raise KibanaImportError(f"--url {redact(url)!r} has a query or #fragment: give the base address only, "
                                "e.g. https://kibana.example.org:5601 or https://example.org/kibana")
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def check_space(space: str | None, product: str) -> str | None:
    if space is None:
        return None
    if product != "kibana":
        raise KibanaImportError("--space is a Kibana feature; OpenSearch Dashboards has tenants instead, which "
                                "this command does not select: drop --space (objects go to the user's current "
                                "tenant)")
    if not SPACE_ID.match(space):
        raise KibanaImportError(f"--space {space!r} is not a space id: use the id shown in the space's URL "
                                "(/s/<id>/), lower-case letters, digits, - and _")
    return space


def api_key_header(api_key: str) -> str:
    """Kibana takes Elasticsearch API keys: "Authorization: ApiKey base64(id:key)". The key may be
    given as id:key or in the encoded form Elasticsearch returned when it was created."""
    value = api_key.strip()
    key_id, sep, key = value.partition(":")
    if sep and key_id and key:
        return "ApiKey " + base64.b64encode(value.encode("utf-8")).decode("ascii")
    try:
        decoded_id, sep, decoded_key = base64.b64decode(value, validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        decoded_id = ""
    if not (decoded_id and sep and decoded_key):
        raise KibanaImportError("--api-key is not an Elasticsearch API key: give it as ID:KEY or as the base64 "
                                "'encoded' value returned when the key was created")
    return "ApiKey " + value


def auth_header(product: str, user: str | None, password: str | None, api_key: str | None) -> str | None:
    if api_key is not None:
        if product != "kibana":
            raise KibanaImportError("--api-key works with Kibana only; OpenSearch Dashboards signs in with "
                                    "--user and --password")
        return api_key_header(api_key)
    if user is None and password is None:
        return None
    if not user or password is None:
        missing = "--user" if not user else f"--password (or ${PASSWORD_ENV})"
        raise KibanaImportError(f"basic auth needs both --user and --password: give {missing}")
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def multipart(filename: str, content: bytes, boundary: str) -> bytes:
    """A multipart/form-data body with one part, `file`, as the import API expects."""
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n"
            "Content-Type: application/ndjson\r\n\r\n").encode("ascii")
    return head + content + f"\r\n--{boundary}--\r\n".encode("ascii")


def boundary_for(content: bytes) -> str:
    """A boundary that cannot occur in the content (the content is JSON: no such run of dashes)."""
    boundary = "newswatch-saved-objects"
    while boundary.encode("ascii") in content:
        boundary += "-x"
    return boundary


def build_request(target: Target, content: bytes, auth: str | None) -> urllib.request.Request:
    boundary = boundary_for(content)
    headers = {XSRF_HEADERS[target.product]: "true", "Content-Type": f"multipart/form-data; boundary={boundary}",
               "Accept": "application/json"}
    if auth:
        headers["Authorization"] = auth
    return urllib.request.Request(target.api("/api/saved_objects/_import?overwrite=true"), method="POST",
                                  data=multipart("newswatch.ndjson", content, boundary), headers=headers)


# ---- pure: what the server said ------------------------------------------------------------------

def explain_status(target: Target, status: int, body: str) -> str:
    """What an HTTP error from the import API means, and what to do about it."""
    where = f"{target.name} at {target.url}" + (f" (space {target.space})" if target.space else "")
    other = "kibana" if target.product == "opensearch-dashboards" else "opensearch-dashboards"
    if status == 400 and XSRF_HEADERS[other] in body:
        flag = "add --opensearch-dashboards" if other == "opensearch-dashboards" else "drop --opensearch-dashboards"
        return f"{where} asked for the {XSRF_HEADERS[other]} header: it is {PRODUCT_NAMES[other]}; {flag}"
    if status == 401:
        return f"{where} refused the credentials (HTTP 401): check --user/--password or --api-key"
    if status == 403:
        return (f"{where} denied the import (HTTP 403): the user needs the privilege to manage saved objects"
                + (" in that space" if target.space else "") + ", e.g. the kibana_admin role")
    if status == 404:
        hint = f"check that space {target.space!r} exists, and " if target.space else ""
        return (f"{where} has no saved-objects import API (HTTP 404): {hint}check that --url is the address of "
                f"{target.name} itself (not of Elasticsearch/OpenSearch), including any base path")
    if status == 413:
        return (f"{where} refused the file as too large (HTTP 413): raise savedObjects.maxImportPayloadBytes in "
                f"its configuration")
    return f"{where} answered HTTP {status}: {short(body)}"


def explain_result(target: Target, result: dict, sent: int) -> list[str]:
    """One line per object the server did not import; empty when all were."""
    lines = []
    for error in result.get("errors") or []:
        kind = (error.get("error") or {}).get("type", "unknown")
        what = f"{error.get('type')} {error.get('id')}"
        if kind == "unsupported_type":
            lines.append(f"{what}: this {target.name} has no {error.get('type')!r} object type; enable the plugin "
                         "that provides it (Lens and Maps for Kibana) or leave that object out")
        elif kind == "missing_references":
            missing = ", ".join(f"{r.get('type')} {r.get('id')}" for r in error["error"].get("references", []))
            lines.append(f"{what}: refers to objects that are neither in the file nor in {target.name}: {missing}")
        elif kind == "conflict":
            lines.append(f"{what}: exists already and was not overwritten; import again (the command asks to "
                         "overwrite) or delete it in Stack Management > Saved objects")
        else:
            lines.append(f"{what}: {kind}: {short(json.dumps(error.get('error'), ensure_ascii=False))}")
    if not lines and (not result.get("success") or result.get("successCount", sent) != sent):
        lines.append(f"{target.name} imported {result.get('successCount', 0)} of {sent} objects without saying why")
    return lines


def short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."


def redact(url: str) -> str:
    return re.sub(r"//[^/@\s]*@", "//***@", url)


def dashboard_url(target: Target) -> str:
    return target.api(f"/app/dashboards#/view/{DASHBOARD_ID}")  # the same route in both products


# ---- the network --------------------------------------------------------------------------------

def send(target: Target, request: urllib.request.Request, ca_certs: Path | None) -> dict:
    context = ssl.create_default_context(cafile=str(ca_certs)) if ca_certs else None
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S, context=context) as response:
            body = response.read().decode("utf-8", errors="replace")
    except urllib.error.HTTPError as err:
        raise KibanaImportError(explain_status(target, err.code, err.read().decode("utf-8", "replace"))) from None
    except urllib.error.URLError as err:
        reason = err.reason
        if isinstance(reason, ssl.SSLError):
            raise KibanaImportError(f"TLS with {target.url} failed ({reason.reason or reason}): give the CA that "
                                    "signed its certificate with --ca-certs") from None
        raise KibanaImportError(f"could not reach {target.name} at {target.url} ({reason}): check --url and that "
                                f"{target.name} is running") from None
    except (TimeoutError, ConnectionError) as err:
        raise KibanaImportError(f"{target.name} at {target.url} did not answer ({err}): check that it is "
                                "running, then try again") from None
    try:
        result = json.loads(body)
    except json.JSONDecodeError:
        result = None
    if not isinstance(result, dict):
        raise KibanaImportError(f"{target.url} answered, but not as {target.name}'s import API ({short(body, 120)!r}): "
                                f"check that --url is the address of {target.name}")
    return result


def import_assets(target: Target, objects: list[dict], auth: str | None, ca_certs: Path | None = None) -> dict:
    """Sends the objects; returns the server's answer when every object was imported, raises
    KibanaImportError (naming each refused object and why) otherwise."""
    result = send(target, build_request(target, to_ndjson(objects), auth), ca_certs)
    problems = explain_result(target, result, len(objects))
    if problems:
        raise KibanaImportError(f"{target.name} imported {result.get('successCount', 0)} of {len(objects)} "
                                "objects; not imported:\n  " + "\n  ".join(problems))
    return result


# ---- the command -------------------------------------------------------------------------------

def cmd_import(args: argparse.Namespace) -> int:
    from .settings import load_settings

    product = "opensearch-dashboards" if args.opensearch_dashboards else "kibana"
    target = Target(product, base_url(args.url), check_space(args.space, product))
    # the environment fills in only what the chosen sign-in lacks
    password = args.password if args.password is not None else os.environ.get(PASSWORD_ENV) if args.user else None
    api_key = args.api_key if args.api_key is not None else os.environ.get(API_KEY_ENV) if not args.user else None
    auth = auth_header(product, args.user, password, api_key)
    path = Path(args.file) if args.file else ASSETS[product]
    search = load_settings().search
    objects = retarget(read_objects(path), {k: getattr(search, k) for k in DATA_VIEW_IDS.values()})
    result = import_assets(target, objects, auth, Path(args.ca_certs) if args.ca_certs else None)
    titles = ", ".join(o["attributes"]["title"] for o in objects if o["type"] == "index-pattern")
    print(f"imported {result.get('successCount', len(objects))} saved objects into {target.name} at {target.url}"
          + (f" (space {target.space})" if target.space else "") + f"; index patterns: {titles}")
    print(f"dashboard: {dashboard_url(target)}")
    return 0


def _with_user_errors(command: Callable[[argparse.Namespace], int], user_error: type[Exception]):
    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except KibanaImportError as err:
            raise user_error(str(err)) from None
    return run


def add_commands(subparsers, user_error: type[Exception]) -> None:
    """`newswatch kibana import`. `user_error` is the CLI's UserError (see pipelines/dlq.py for why
    it is passed in)."""
    kibana = subparsers.add_parser("kibana", help="import the Kibana / OpenSearch Dashboards saved objects",
                                   description="Data views, saved searches, charts, a map and a dashboard for "
                                               "the newswatch indices (deploy/kibana/, deploy/opensearch-dashboards/).")
    actions = kibana.add_subparsers(dest="kibana_command", required=True)
    p = actions.add_parser("import", help="send the saved objects to the import API, overwriting earlier copies",
                           description="Index-pattern titles follow settings.search (articles_index, "
                                       "events_index, alerts_index).")
    p.add_argument("--url", required=True, help="the Kibana (or OpenSearch Dashboards) address, e.g. "
                                                "https://kibana.example.org:5601")
    p.add_argument("--space", help="Kibana space id (default: the default space)")
    auth = p.add_mutually_exclusive_group()
    auth.add_argument("--api-key", help=f"Elasticsearch API key, ID:KEY or encoded (or set ${API_KEY_ENV})")
    auth.add_argument("--user", help="basic-auth user name")
    p.add_argument("--password", help=f"basic-auth password (better: set ${PASSWORD_ENV}, which stays out of "
                                      "the process list)")
    p.add_argument("--opensearch-dashboards", action="store_true",
                   help="the target is OpenSearch Dashboards: import deploy/opensearch-dashboards/newswatch.ndjson")
    p.add_argument("--file", help="import this NDJSON file instead of the bundled one")
    p.add_argument("--ca-certs", help="CA bundle for an https:// address signed by a private CA")
    p.set_defaults(func=_with_user_errors(cmd_import, user_error))
