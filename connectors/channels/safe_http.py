"""HTTP POST for the webhook and Slack channels, on top of the SSRF guard (ssrf.py).

The standard library's http.client, with `connect` overridden so the socket goes to an address
that `check_url` resolved and checked, while the Host header and the TLS server name (SNI and
certificate check) stay the URL's host. No proxy is used (one would resolve the name again).
Redirects are followed by hand, at most MAX_REDIRECTS, each new location checked like the first;
the same body is POSTed again (the point of the request is its body), and https never steps
down to http."""
from __future__ import annotations

import http.client
import logging
import socket
import functools
import os
import ssl
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from .base import DeliveryError
from .render import clean
from .ssrf import CheckedURL, RefusedURL, check_url, safe_origin

log = logging.getLogger(__name__)

MAX_REDIRECTS = 3
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
RETRYABLE_STATUSES = (408, 425, 429)  # and every 5xx
MAX_RESPONSE_BYTES = 64 * 1024        # only a snippet of an error answer is ever shown
USER_AGENT = "newswatch-alerts/0.1"


@dataclass(frozen=True)
class HttpResponse:
    status: int
    reason: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    origin: str              # where it came from (after redirects), safe to show


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, checked: CheckedURL, address: str, timeout_s: float) -> None:
        super().__init__(checked.host, checked.port, timeout=timeout_s)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, checked: CheckedURL, address: str, timeout_s: float, context: ssl.SSLContext) -> None:
        super().__init__(checked.host, checked.port, timeout=timeout_s, context=context)
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        try:
            self.sock = self._context.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise


@functools.lru_cache(maxsize=4)
def default_tls_context(cert_file: str | None) -> ssl.SSLContext:
    """The system's CAs (or SSL_CERT_FILE's), made once per process: making one reads the whole CA
    bundle, 30-45 ms, which was most of the time of a webhook delivery. Keyed by SSL_CERT_FILE so a
    changed bundle is read again."""
    return ssl.create_default_context()


def post(url: str, body: bytes, headers: dict[str, str], *, what: str, allowed_networks: list[str],
         timeout_s: float, tls_context: ssl.SSLContext | None = None) -> HttpResponse:
    """POST body to url (following checked redirects); returns the final answer, whatever its status.
    Raises RefusedURL for a refused target, DeliveryError for a transport failure. `what` names the
    channel in messages ("webhook", "Slack webhook")."""
    context = tls_context or default_tls_context(os.environ.get("SSL_CERT_FILE"))
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT, **headers}
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        checked = check_url(current, allowed_networks)
        response = _post_once(checked, body, headers, what, timeout_s, context)
        location = response.headers.get("location") if response.status in REDIRECT_STATUSES else None
        if not location:
            return response
        current = _next_location(checked, current, location, what)
        log.debug("%s %s redirected (%d) to %s", what, checked.origin, response.status, safe_origin(current))
    raise RefusedURL(f"{what} {safe_origin(url)} redirected more than {MAX_REDIRECTS} times: point the subscription "
                     "at the final URL")


def _next_location(checked: CheckedURL, current: str, location: str, what: str) -> str:
    following = urljoin(current, location.strip())
    if checked.scheme == "https" and urlsplit(following).scheme.lower() == "http":
        raise RefusedURL(f"{what} {checked.origin} redirected from https to plain http ({safe_origin(following)}): "
                         "refused, the alert would cross the network unencrypted; fix the receiver's redirect")
    return following


def _post_once(checked: CheckedURL, body: bytes, headers: dict[str, str], what: str, timeout_s: float,
               context: ssl.SSLContext) -> HttpResponse:
    failures = []
    for address in checked.addresses:
        conn = (_PinnedHTTPSConnection(checked, address, timeout_s, context) if checked.scheme == "https"
                else _PinnedHTTPConnection(checked, address, timeout_s))
        try:
            conn.connect()
        except ssl.SSLCertVerificationError as err:
            conn.close()
            raise DeliveryError(f"{what} {checked.origin}: its TLS certificate is not trusted ({err.verify_message}); "
                                "the receiver must serve a certificate for its host name from a CA this machine "
                                "trusts (SSL_CERT_FILE names a CA bundle)", retryable=False) from None
        except OSError as err:  # refused, unreachable, timed out, TLS handshake failed: try the next address
            conn.close()
            failures.append(f"{address}: {_reason(err)}")
            continue
        try:
            return _exchange(conn, checked, body, headers, what, timeout_s)
        finally:
            conn.close()
    raise DeliveryError(f"cannot connect to {what} {checked.origin} ({'; '.join(failures)}): the receiver is down "
                        "or unreachable; delivery is retried", retryable=True)


def _exchange(conn: http.client.HTTPConnection, checked: CheckedURL, body: bytes, headers: dict[str, str],
              what: str, timeout_s: float) -> HttpResponse:
    try:
        conn.request("POST", checked.target, body=body, headers=headers)
        answer = conn.getresponse()
        data = answer.read(MAX_RESPONSE_BYTES)
    except http.client.InvalidURL as err:
        raise RefusedURL(f"{what} {checked.origin}: the URL's path is not valid ({err}): fix the URL") from None
    except TimeoutError:
        raise DeliveryError(f"{what} {checked.origin} did not answer within {timeout_s:g} s (alerts.http_timeout_s); "
                            "delivery is retried", retryable=True) from None
    except (OSError, http.client.HTTPException) as err:
        raise DeliveryError(f"{what} {checked.origin} broke off the exchange ({_reason(err)}); delivery is retried",
                            retryable=True) from None
    log.debug("%s %s answered %d", what, checked.origin, answer.status)
    headers_out = {name.lower(): value for name, value in answer.getheaders()}
    return HttpResponse(answer.status, answer.reason, headers_out, data, checked.origin)


def _reason(err: BaseException) -> str:
    if isinstance(err, TimeoutError):
        return "timed out"
    return getattr(err, "strerror", None) or str(err) or type(err).__name__


def raise_for_status(response: HttpResponse, what: str) -> None:
    """2xx: delivered. 408, 425, 429 and 5xx: retryable (Retry-After kept). Anything else: the
    receiver refuses this alert, and sending it again would not change that."""
    status = response.status
    if 200 <= status < 300:
        return
    said = clean(response.body.decode("utf-8", "replace"), 200)
    answer = f"{status} {response.reason}".strip() + (f": {said}" if said else "")
    if status in RETRYABLE_STATUSES or status >= 500:
        raise DeliveryError(f"{what} {response.origin} answered {answer}; delivery is retried", retryable=True,
                            retry_after_s=_retry_after(response.headers.get("retry-after")))
    if status in REDIRECT_STATUSES:
        raise DeliveryError(f"{what} {response.origin} answered {status} without a Location to follow: fix the "
                            "subscription's URL", retryable=False)
    fix = ("check that the receiver verifies with the subscription's secret" if status in (401, 403)
           else "fix the receiver or the subscription's URL")
    raise DeliveryError(f"{what} {response.origin} refused the alert with {answer}: {fix}; it is not retried",
                        retryable=False)


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header; an HTTP date is ignored (backoff applies instead)."""
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None
