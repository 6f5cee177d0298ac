"""The FastAPI application: routes, authentication, limits, the page and the docs.

Routes are plain (sync) functions: FastAPI runs them in its thread pool, where the search
clients' blocking calls belong. Only the live feed is async, so an open feed holds no thread.
"""
from __future__ import annotations

import asyncio
import importlib.util
import logging
import math
import threading
import time
import uuid
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles

from newswatch.pipelines.model import EVENT_TYPES, Subscription
from newswatch.pipelines.settings import Settings

from . import errors
from .auth import Principal, token_hash
from .limits import AccessLog, BodySizeLimit
from .models import (AlertList, AlertView, Health, Me, Meta, PlaceOut, Problem, SearchResult, SubscriptionInput,
                     Unprocessable, WouldHaveAlerted, to_subscription)
from .queries import (FieldError, alerts_query, engine_time, events_search_body, facets_of, parse_near, parse_time,
                      total_of)
from .state import ApiState, alert_view, carry_webhook_secrets, event_hit, iso

LOG = logging.getLogger("newswatch.api")
STATIC_DIR = Path(__file__).resolve().parent / "static"
KEEPALIVE_S = 15.0
FEED_LOOKBACK_S = 2  # the feed re-reads this far back: times have whole seconds, and refreshes lag
# The page loads nothing from elsewhere and runs no inline script.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                               "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
                               "form-action 'none'",
    "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY",
}
DESCRIPTION = """The analysts' API of newswatch: subscriptions to alerts, the alerts themselves (a list, a live
feed and acknowledgement) and search over the indexed events.

Every `/api` call needs `Authorization: Bearer <token>`; make a token with `newswatch token create --user NAME`
(`--admin` for a token that sees everyone's objects). The live feed also takes the token as `access_token`, for
clients such as `EventSource` that cannot send headers."""

API_RESPONSES = {
    401: {"model": Problem, "description": "no token, or a token newswatch does not know"},
    404: {"model": Problem, "description": "no such object among the caller's"},
    413: {"model": Problem, "description": "the body is larger than api.max_body_bytes"},
    422: {"model": Unprocessable, "description": "a field is not valid: one message per field"},
    429: {"model": Problem, "description": "over api.rate_limit_per_minute for this token; see Retry-After"},
    503: {"model": Problem, "description": "the search engine or Kafka did not answer"},
}
bearer = HTTPBearer(auto_error=False, description="a token from `newswatch token create --user NAME`")


def create_app(settings: Settings, state: ApiState | None = None, warm_up: bool = True) -> FastAPI:
    """The app. `warm_up`: at start, set up the indices in the background and load the gazetteer
    for the place type-ahead (a few seconds)."""
    state = state or ApiState(settings)
    stop = threading.Event()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if warm_up:
            state.prepare_in_background(stop)
            threading.Thread(target=_warm_places, name="newswatch-api-places", daemon=True).start()
        yield
        stop.set()

    app = FastAPI(title="newswatch", version="1", description=DESCRIPTION, docs_url=None, redoc_url=None,
                  lifespan=lifespan)
    app.state.nw = state
    errors.install(app, settings.search.url)
    if settings.api.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.api.cors_origins, allow_credentials=False,
                           allow_methods=["GET", "POST", "PUT", "DELETE"], allow_headers=["Authorization", "Content-Type"])
    app.add_middleware(BodySizeLimit, max_bytes=settings.api.max_body_bytes)
    app.add_middleware(AccessLog)
    api = APIRouter(responses=API_RESPONSES)
    _add_subscription_routes(api, state)
    _add_alert_routes(api, state)
    _add_search_routes(api, state)
    app.include_router(api)
    _add_service_routes(app, state)
    _add_page(app)
    return app


def _warm_places() -> None:
    from .places import place_index

    try:
        place_index()
    except Exception:  # noqa: BLE001 - the type-ahead then loads on first use and reports there
        LOG.exception("could not load the gazetteer for the place type-ahead")


# -- authentication ---------------------------------------------------------------------------------

def authenticate(state: ApiState, token: str | None, address: str) -> Principal:
    """The caller, after the rate limit (per token; per address for calls without one)."""
    wait = state.limiter.check(token_hash(token) if token else f"address:{address}")
    if wait > 0:
        raise HTTPException(429, detail=f"too many requests: more than {state.settings.api.rate_limit_per_minute} "
                                        f"a minute with this token (api.rate_limit_per_minute); try again in "
                                        f"{math.ceil(wait)} s", headers={"Retry-After": str(math.ceil(wait))})
    if not token:
        raise HTTPException(401, detail="no token: send the header 'Authorization: Bearer <token>'; make a token "
                                        "with `newswatch token create --user NAME`",
                            headers={"WWW-Authenticate": "Bearer"})
    principal = state.tokens.lookup(token)
    if principal is None:
        raise HTTPException(401, detail="the token is not known (mistyped, or revoked): make a new one with "
                                        "`newswatch token create --user NAME`",
                            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    return principal


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def caller(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> Principal:
    return authenticate(request.app.state.nw, credentials.credentials if credentials else None, _address(request))


def stream_caller(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
                  access_token: str | None = Query(None, description="the token, for clients that cannot send "
                                                                     "an Authorization header (EventSource)")
                  ) -> Principal:
    token = credentials.credentials if credentials else access_token
    return authenticate(request.app.state.nw, token, _address(request))


def _not_found(what: str, ident: str) -> HTTPException:
    return HTTPException(404, detail=f"no {what} {ident} among yours; GET /api/{what}s lists them")


# -- subscriptions ----------------------------------------------------------------------------------

def _owner_for(body: SubscriptionInput, who: Principal, current: str) -> str:
    """The body's owner, if any, else the current one; only an admin may change it."""
    wanted = body.owner or current
    if wanted != current and not who.admin:
        raise FieldError("owner", "only an admin may set another owner: leave owner out")
    return wanted


def _check_targets(sub: Subscription, allowed_networks: list[str]) -> None:
    """The delivery worker's SSRF check, per channel, so the error names the channel."""
    from newswatch.connectors.channels.ssrf import RefusedURL, check_url

    for i, channel in enumerate(sub.channels):
        if channel.type in ("webhook", "slack"):
            try:
                check_url(channel.url, allowed_networks)
            except RefusedURL as err:
                raise FieldError(f"channels.{i}.url", str(err)) from None


def _require_keys(missing: list[int]) -> None:
    if missing:
        raise FieldError(f"channels.{missing[0]}.secret",
                         "a webhook needs its signing key (secret): the HMAC-SHA256 key your receiver verifies, "
                         "e.g. 32 random bytes in base64; newswatch never shows keys back, so choose it yourself")


def _add_subscription_routes(app: APIRouter, state: ApiState) -> None:
    service = state.service

    def visible(sub_id: str, who: Principal, with_secrets: bool = False) -> Subscription:
        sub = service.store.get(sub_id, with_secrets=with_secrets)
        if sub is None or not who.may_see(sub.owner):
            raise _not_found("subscription", sub_id)
        return sub

    @app.get("/api/subscriptions", response_model=list[Subscription], tags=["subscriptions"])
    def list_subscriptions(owner: str | None = Query(None, description="admins: only this user's"),
                           who: Principal = Depends(caller)):
        subs = service.list(owner if who.admin and owner else who.owner_filter)
        return sorted(subs, key=lambda s: (s.owner, s.name.lower(), s.id))

    @app.post("/api/subscriptions", response_model=Subscription, status_code=201, tags=["subscriptions"])
    def create_subscription(body: SubscriptionInput, response: Response, who: Principal = Depends(caller)):
        sub = to_subscription(body, uuid.uuid4().hex, _owner_for(body, who, who.user), None)
        _check_targets(sub, state.settings.alerts.allowed_networks)
        sub, missing = carry_webhook_secrets(sub, None)
        _require_keys(missing)
        stored, _ = service.save(sub)
        response.headers["Location"] = f"/api/subscriptions/{stored.id}"
        return stored

    @app.post("/api/subscriptions/test", response_model=WouldHaveAlerted, tags=["subscriptions"])
    def test_draft(body: SubscriptionInput, days: float = Query(7, gt=0, le=90), size: int = Query(50, ge=1, le=200),
                   who: Principal = Depends(caller)):
        """What a subscription not yet saved would have alerted (the form's "test" button)."""
        sub = to_subscription(body, "draft", who.user, None)
        return _would_have_alerted(state, sub, None, days, size)

    @app.get("/api/subscriptions/{sub_id}", response_model=Subscription, tags=["subscriptions"])
    def get_subscription(sub_id: str, who: Principal = Depends(caller)):
        return visible(sub_id, who)

    @app.put("/api/subscriptions/{sub_id}", response_model=Subscription, tags=["subscriptions"])
    def replace_subscription(sub_id: str, body: SubscriptionInput, who: Principal = Depends(caller)):
        old = visible(sub_id, who, with_secrets=True)
        sub = to_subscription(body, old.id, _owner_for(body, who, old.owner), old.created_at)
        _check_targets(sub, state.settings.alerts.allowed_networks)
        sub, missing = carry_webhook_secrets(sub, old)
        _require_keys(missing)
        stored, _ = service.save(sub)
        return stored

    @app.delete("/api/subscriptions/{sub_id}", status_code=204, tags=["subscriptions"])
    def delete_subscription(sub_id: str, who: Principal = Depends(caller)):
        visible(sub_id, who)
        service.delete(sub_id)
        return Response(status_code=204)

    @app.post("/api/subscriptions/{sub_id}/test", response_model=WouldHaveAlerted, tags=["subscriptions"])
    def test_subscription(sub_id: str, days: float = Query(7, gt=0, le=90), size: int = Query(50, ge=1, le=200),
                          who: Principal = Depends(caller)):
        """The events of the last `days` this subscription would have alerted: its own stored query
        (the percolator's) run on the events index."""
        return _would_have_alerted(state, visible(sub_id, who), sub_id, days, size)


def _would_have_alerted(state: ApiState, sub: Subscription, sub_id: str | None, days: float,
                        size: int) -> WouldHaveAlerted:
    events = [event_hit(e) for e in state.service.would_have_alerted(sub, days=days, size=size)]
    return WouldHaveAlerted(subscription_id=sub_id, days=days, count=len(events), events=events)


# -- alerts -----------------------------------------------------------------------------------------

def _add_alert_routes(app: APIRouter, state: ApiState) -> None:
    index = state.settings.search.alerts_index

    @app.get("/api/alerts", response_model=AlertList, tags=["alerts"])
    def list_alerts(since: str | None = Query(None, description="ISO time, or a span back from now: 30m, 24h, 7d"),
                    subscription: str | None = Query(None, description="only this subscription's"),
                    state_: Literal["new", "acknowledged"] | None = Query(None, alias="state"),
                    limit: int = Query(100, ge=1, le=1000), who: Principal = Depends(caller)):
        """The caller's alerts (an admin's: everyone's), newest match first."""
        query = alerts_query(who.owner_filter, engine_time(since, "since"), subscription, state_)
        body = {"size": limit, "query": query, "sort": [{"matched_at": "desc"}, {"id": "asc"}],
                "_source": {"excludes": ["digest_alerts"]}}
        views = [alert_view(h["_source"]) for h in state.backend.search(index, body)["hits"]["hits"]]
        return AlertList(count=len(views), alerts=views)

    @app.post("/api/alerts/{alert_id}/ack", response_model=AlertView, tags=["alerts"])
    def acknowledge(alert_id: str, who: Principal = Depends(caller)):
        """new -> acknowledged (again: no change)."""
        record = state.visible_alert(alert_id, who)
        if record is None:
            raise _not_found("alert", alert_id)
        return alert_view(state.acknowledge(record, who))

    @app.get("/api/alerts/stream", tags=["alerts"], response_class=StreamingResponse,
             responses={200: {"content": {"text/event-stream": {}},
                              "description": "server-sent events: `event: alert`, `data:` an AlertView as JSON, "
                                             "whenever one of the caller's alerts is recorded or changes"}})
    async def alert_stream(request: Request, since: str | None = Query(None, description="ISO time or 30m, 1h: "
                                                                                         "also send what changed since"),
                           who: Principal = Depends(stream_caller)):
        start = _stream_start(since)
        return StreamingResponse(_feed(request, state, who, start), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _stream_start(since: str | None) -> float:
    when = parse_time(since, "since")
    return when.timestamp() if when else time.time()


def _epoch(iso_time: str) -> float:
    return datetime.strptime(iso_time, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


async def _feed(request: Request, state: ApiState, who: Principal, start: float):
    """Polls the alerts index every api.stream_poll_s for the caller's alerts written or changed
    since the last poll, and sends each version of an alert once."""
    cursor = iso(start)
    sent: dict[str, tuple[str, str]] = {}  # id -> (updated_at, the view sent)
    beat = time.monotonic()
    yield "retry: 2000\n\n"
    while not await request.is_disconnected():
        since = iso(_epoch(cursor) - FEED_LOOKBACK_S)
        try:
            records = await asyncio.to_thread(state.changed_alerts, who, since)
        except Exception as err:  # noqa: BLE001 - the engine may come back: say so and keep the feed open
            LOG.warning("live feed: alerts index not readable (%s)", type(err).__name__)
            records = []
            yield "event: problem\ndata: {\"detail\": \"the search engine did not answer; retrying\"}\n\n"
        for record in records:
            updated = record.get("updated_at") or cursor
            view = alert_view(record).model_dump_json()
            # Times have whole seconds, so a change within the second of the last one (an alert
            # acknowledged right after it arrived) keeps updated_at: compare what the caller sees.
            if sent.get(record["id"]) == (updated, view):
                continue
            sent[record["id"]] = (updated, view)
            cursor = max(cursor, updated)
            yield f"event: alert\nid: {record['id']}\ndata: {view}\n\n"
        sent = {k: v for k, v in sent.items() if v[0] >= since}
        if time.monotonic() - beat > KEEPALIVE_S:
            beat = time.monotonic()
            yield ": keepalive\n\n"
        await asyncio.sleep(state.settings.api.stream_poll_s)


# -- search, places, meta -----------------------------------------------------------------------------

def _add_search_routes(app: APIRouter, state: ApiState) -> None:
    @app.get("/api/events/search", response_model=SearchResult, tags=["events"])
    def search_events(q: str | None = Query(None, max_length=1000, description="full text over title and text "
                                                                             "(Arabic and English analyzers)"),
                      type_: list[str] = Query([], alias="type", description=" | ".join(EVENT_TYPES)),
                      subtype: list[str] = Query([]), actor: list[str] = Query([], description="canonical name"),
                      country: list[str] = Query([], description="ISO 3166-1 alpha-2"),
                      place: list[str] = Query([], description="canonical name (GET /api/places)"),
                      language: list[str] = Query([]),
                      near: str | None = Query(None, description="LAT,LON, with radius_km"),
                      radius_km: float | None = Query(None, gt=0, le=20000),
                      since: str | None = Query(None, description="published at or after: ISO time or 24h, 7d"),
                      until: str | None = Query(None, description="published at or before"),
                      page: int = Query(1, ge=1), size: int = Query(20, ge=1, le=100),
                      sort: Literal["newest", "relevance"] = "newest", who: Principal = Depends(caller)):
        """Events, filtered as a subscription filters them, with facets over all matches."""
        filters = Subscription(owner=who.user, name="search", types=type_, subtypes=subtype, actors=actor,
                               countries=country, places=place, languages=language, near=parse_near(near),
                               radius_km=radius_km, query=q or None)
        body = events_search_body(filters, engine_time(since, "since"), engine_time(until, "until"), page, size, sort)
        result = state.backend.search(state.settings.search.events_index, body)
        hits = result["hits"]
        return SearchResult(total=total_of(hits), page=page, size=size, facets=facets_of(result.get("aggregations", {})),
                            events=[event_hit(h["_source"]) for h in hits["hits"]])

    @app.get("/api/places", response_model=list[PlaceOut], tags=["events"])
    def places(q: str = Query(..., min_length=1, max_length=100), limit: int = Query(10, ge=1, le=50),
               who: Principal = Depends(caller)):
        """Type-ahead over the gazetteer the tagger geocodes with (English and Arabic names)."""
        from .places import place_index

        return [p.as_dict() for p in place_index().search(q, limit)]

    @app.get("/api/meta", response_model=Meta, tags=["events"])
    def meta(who: Principal = Depends(caller)):
        """Choices for forms: event types, known actors, countries."""
        from newswatch.pipelines.nlp.resources import load_data

        from .worldmap import countries

        return Meta(event_types=list(EVENT_TYPES), languages=["ar", "en"], rate_limit_per_minute=
                    state.settings.api.rate_limit_per_minute,
                    actors=sorted({a["canonical"] for a in load_data("actors")["actors"]}),
                    countries=[{"code": c["code"], "name": c["name"]} for c in countries()])

    @app.get("/api/me", response_model=Me, tags=["service"])
    def me(who: Principal = Depends(caller)):
        return Me(user=who.user, admin=who.admin)


def _add_service_routes(app: FastAPI, state: ApiState) -> None:
    @app.get("/healthz", response_model=Health, tags=["service"])
    def healthz():
        """The process answers."""
        return Health(status="ok")

    @app.get("/readyz", response_model=Health, tags=["service"], responses={503: {"model": Health}})
    def readyz(response: Response):
        """Kafka and the search engine answer (and the indices are set up)."""
        checks = state.readiness()
        ok = all(v == "ok" for v in checks.values())
        response.status_code = 200 if ok else 503
        return Health(status="ok" if ok else "unavailable", checks=checks)

    @app.get("/api/map/countries", tags=["service"], include_in_schema=False)
    def map_countries():
        from .worldmap import countries_json

        return Response(countries_json(), media_type="application/json",
                        headers={"Cache-Control": "public, max-age=86400"})


# -- the page and the docs ------------------------------------------------------------------------

def _add_page(app: FastAPI) -> None:
    @app.get("/", include_in_schema=False)
    def page():
        return FileResponse(STATIC_DIR / "index.html", headers={**PAGE_HEADERS, "Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    swagger = _swagger_assets()
    if swagger is not None:
        app.mount("/docs-static", StaticFiles(directory=swagger), name="docs-static")

    @app.get("/docs", include_in_schema=False)
    def docs():
        if swagger is None:
            raise HTTPException(404, detail="the docs page needs the fastapi-offline package (./setup.sh installs "
                                            "it); the API description itself is at /openapi.json")
        return get_swagger_ui_html(openapi_url="/openapi.json", title="newswatch API",
                                   swagger_js_url="/docs-static/swagger-ui-bundle.js",
                                   swagger_css_url="/docs-static/swagger-ui.css",
                                   swagger_favicon_url="/static/favicon.svg")


def _swagger_assets() -> Path | None:
    """Swagger UI as files of the fastapi-offline package: /docs works without a CDN."""
    spec = importlib.util.find_spec("fastapi_offline")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "static"
    return path if (path / "swagger-ui-bundle.js").exists() else None
