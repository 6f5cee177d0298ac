"""What the API answers when something is wrong: 422 with one message per field, 503 when a
server newswatch needs does not answer. Never the input back (a body may hold a webhook key)."""
from __future__ import annotations

import logging

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from newswatch.pipelines.alerting.service import SubscriptionError

from .queries import PARAMETER_OF_FIELD, FieldError

LOG = logging.getLogger("newswatch.api")
CHANNEL_TYPES = {"webhook", "slack", "email", "kafka"}
REQUEST_PARTS = {"body", "query", "path", "header"}


def field_path(loc: tuple | list, rename: dict[str, str] | None = None) -> str:
    """("body", "channels", 0, "webhook", "url") -> "channels.0.url": where the client put the
    value, without the request part or the channel-type tag pydantic adds for a tagged union."""
    parts = list(loc)
    if parts and parts[0] in REQUEST_PARTS:
        parts = parts[1:]
    out: list[str] = []
    for i, part in enumerate(parts):
        if part in CHANNEL_TYPES and i >= 2 and isinstance(parts[i - 1], int) and parts[i - 2] == "channels":
            continue
        out.append(str(part))
    if out and rename and out[0] in rename:
        out[0] = rename[out[0]]
    return ".".join(out) or (loc[0] if loc and loc[0] in REQUEST_PARTS else "body")


# What a pattern means, for the fields whose pattern alone would be the message.
PATTERN_MEANING = {
    "to": "is not an e-mail address: write name@domain",
    "url": "is not a web address: it starts with http:// or https://",
    "topic": "is not a Kafka topic name: use letters, digits, '.', '_' and '-'",
    "id": "is not an id: use letters, digits, '_' and '-' (at most 64)",
}


def field_errors(errors: list[dict], rename: dict[str, str] | None = None) -> list[dict]:
    """pydantic errors -> [{"field", "message"}], without inputs."""
    out = []
    for err in errors:
        message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        last = err.get("loc", ())[-1] if err.get("loc") else None
        if err.get("type") == "string_pattern_mismatch" and last in PATTERN_MEANING:
            message = PATTERN_MEANING[last]
        if err.get("type") == "json_invalid":
            message = "the body is not valid JSON: " + message
        out.append({"field": field_path(err.get("loc", ()), rename), "message": message})
    return out


def unprocessable(errors: list[dict]) -> JSONResponse:
    summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return JSONResponse(status_code=422, content={"detail": f"the request is not valid: {summary}", "errors": errors})


def connection_errors() -> tuple[type[Exception], ...]:
    """How either search client, and Kafka's, say their server did not answer."""
    import elastic_transport
    import kafka.errors
    import opensearchpy.exceptions

    return (opensearchpy.exceptions.ConnectionError, elastic_transport.ConnectionError,
            elastic_transport.ConnectionTimeout, kafka.errors.KafkaTimeoutError)


def install(app, search_url: str) -> None:
    @app.exception_handler(RequestValidationError)
    async def _request_invalid(request: Request, err: RequestValidationError):
        return unprocessable(field_errors(list(err.errors()), _rename_for(request)))

    @app.exception_handler(ValidationError)
    async def _model_invalid(request: Request, err: ValidationError):
        return unprocessable(field_errors(err.errors(include_input=False), _rename_for(request)))

    @app.exception_handler(SubscriptionError)
    async def _subscription_refused(request: Request, err: SubscriptionError):
        return unprocessable([{"field": "channels", "message": str(err)}])

    @app.exception_handler(FieldError)
    async def _query_invalid(request: Request, err: FieldError):
        return unprocessable([{"field": err.parameter, "message": str(err)}])

    async def _unavailable(request: Request, err: Exception):
        LOG.warning("%s %s: a server did not answer (%s)", request.method, request.url.path, type(err).__name__)
        return JSONResponse(status_code=503, content={
            "detail": f"the search engine at {search_url} (or Kafka) did not answer: check that it runs "
                      "(`newswatch stack up` locally; GET /readyz says which), then try again"})

    for error in connection_errors():  # an outage is no bug: a 503 and one log line, no traceback
        app.add_exception_handler(error, _unavailable)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, err: Exception):
        LOG.exception("%s %s failed", request.method, request.url.path)
        return JSONResponse(status_code=500, content={
            "detail": f"internal error ({type(err).__name__}); the API log has the details: please report it"})


def _rename_for(request: Request) -> dict[str, str] | None:
    """Event search takes subscription filters under their own parameter names."""
    return PARAMETER_OF_FIELD if request.url.path == "/api/events/search" else None
