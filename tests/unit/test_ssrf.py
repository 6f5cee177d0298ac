"""The SSRF guard of the webhook and Slack channels: which targets are refused, the allow-list,
and redirects, each hop checked again, against a real HTTP server on loopback."""
from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from newswatch.connectors.channels import safe_http
from newswatch.connectors.channels.base import DeliveryError
from newswatch.connectors.channels.ssrf import RefusedURL, check_url, safe_origin

LOOPBACK = ["127.0.0.0/8"]


# --- refused address classes ----------------------------------------------------------------------

@pytest.mark.parametrize(("url", "why"), [
    ("http://127.0.0.1/hook", "loopback"),
    ("http://127.8.9.10:8080/hook", "loopback"),
    ("http://localhost/hook", "loopback"),
    ("http://[::1]/hook", "loopback"),
    ("http://2130706433/hook", "loopback"),        # 127.0.0.1 as one decimal number
    ("http://0x7f.1/hook", "loopback"),            # and in inet_aton's hex short form
    ("http://10.1.2.3/hook", "private"),
    ("http://172.16.0.1/hook", "private"),
    ("http://192.168.1.1/hook", "private"),
    ("http://[fc00::1]/hook", "private"),
    ("http://169.254.1.1/hook", "link-local"),
    ("http://[fe80::1]/hook", "link-local"),
    ("http://224.0.0.1/hook", "multicast"),
    ("http://[ff02::1]/hook", "multicast"),
    ("http://240.0.0.1/hook", "reserved"),
    ("http://0.0.0.0/hook", "unspecified"),
    ("http://[::]/hook", "unspecified"),
    ("http://100.64.0.1/hook", "not globally routable"),
    ("http://169.254.169.254/latest/meta-data/", "metadata"),
    ("http://[fd00:ec2::254]/latest/meta-data/", "metadata"),
    ("http://100.100.100.200/latest/meta-data/", "metadata"),
    ("http://[::ffff:169.254.169.254]/latest/meta-data/", "metadata"),  # IPv4-mapped IPv6
    ("http://[::ffff:127.0.0.1]/hook", "loopback"),
    ("http://[::ffff:10.0.0.1]/hook", "private"),
    ("http://[64:ff9b::a9fe:a9fe]/hook", "metadata"),                   # NAT64 form of 169.254.169.254
    ("http://[2002:7f00:1::]/hook", "loopback"),                        # 6to4 form of 127.0.0.1
])
def test_refuses_non_public_addresses(url, why):
    with pytest.raises(RefusedURL) as refused:
        check_url(url, [])
    message = str(refused.value)
    assert why in message
    assert refused.value.retryable is False
    assert "alerts.allowed_networks" in message  # and how to allow it
    if why != "metadata":
        assert "NEWSWATCH_ALERTS__ALLOWED_NETWORKS=" in message


def test_a_public_address_passes_and_is_the_one_to_connect_to():
    checked = check_url("https://93.184.216.34:8443/hooks/x?a=1", [])
    assert checked.addresses == ("93.184.216.34",)
    assert (checked.scheme, checked.host, checked.port, checked.target) == ("https", "93.184.216.34", 8443, "/hooks/x?a=1")


# --- the allow-list -------------------------------------------------------------------------------

def test_allowed_networks_lift_the_refusal_for_their_addresses_only():
    assert check_url("http://127.0.0.1:9/", LOOPBACK).addresses == ("127.0.0.1",)
    assert check_url("http://[::ffff:127.0.0.1]:9/", LOOPBACK).addresses == ("::ffff:127.0.0.1",)
    assert set(check_url("http://localhost:9/", LOOPBACK).addresses) == {"127.0.0.1"}  # ::1 dropped if resolved
    for url in ("http://[::1]/", "http://10.0.0.1/", "http://192.168.0.1/"):
        with pytest.raises(RefusedURL):
            check_url(url, LOOPBACK)
    assert check_url("http://[::1]:9/", ["::1/128"]).addresses == ("::1",)


def test_metadata_is_allowed_only_by_naming_it_exactly():
    for wide in (["169.254.0.0/16"], ["0.0.0.0/0"]):
        with pytest.raises(RefusedURL, match="names exactly 169.254.169.254/32"):
            check_url("http://169.254.169.254/", wide)
    assert check_url("http://169.254.169.254/", ["169.254.169.254/32"]).addresses == ("169.254.169.254",)


def test_a_malformed_allowed_network_says_which_setting_to_fix():
    with pytest.raises(RefusedURL, match=r"alerts.allowed_networks holds '127.0.0/33'.*NEWSWATCH_ALERTS__ALLOWED_NETWORKS"):
        check_url("http://127.0.0.1/", ["127.0.0/33"])


# --- schemes and URL shapes -----------------------------------------------------------------------

@pytest.mark.parametrize("url", ["ftp://93.184.216.34/x", "file:///etc/passwd", "gopher://93.184.216.34:70/_x",
                                 "javascript:alert(1)", "93.184.216.34/hook", "dict://93.184.216.34:11211/"])
def test_only_http_and_https_are_allowed(url):
    with pytest.raises(RefusedURL, match="only http:// and https:// are allowed"):
        check_url(url, [])


@pytest.mark.parametrize(("url", "fix"), [("http:///hook", "without a host"),
                                          ("http://93.184.216.34:99999/", "not a valid URL"),
                                          ("https://user:pw@93.184.216.34/", "credentials in the URL")])
def test_malformed_urls_are_refused_with_the_fix(url, fix):
    with pytest.raises(RefusedURL, match=fix):
        check_url(url, [])


def test_errors_and_logs_show_only_the_origin_of_a_url():
    """A Slack webhook's path is its credential; user:password@ never shows either."""
    assert safe_origin("https://hooks.slack.example/services/T0/B0/SECRETTOKEN?x=1") == "https://hooks.slack.example"
    assert safe_origin("http://me:pw@[::1]:8080/p") == "http://[::1]:8080"
    with pytest.raises(RefusedURL) as refused:
        check_url("http://10.0.0.1/services/T0/B0/SECRETTOKEN", [])
    assert "SECRETTOKEN" not in str(refused.value)


# --- redirects, against a real loopback server ----------------------------------------------------

class _Redirector(BaseHTTPRequestHandler):
    """/to?url=U answers 307 to U; /hops/N redirects N more times (relative Location); /ok is 200."""

    def do_POST(self):  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.seen.append((self.path, self.headers.get("Host"), body))
        parts = urlsplit(self.path)
        if parts.path == "/to":
            self._answer(307, parse_qs(parts.query)["url"][0])
        elif parts.path.startswith("/hops/") and int(parts.path.rsplit("/", 1)[1]) > 0:
            self._answer(308, f"/hops/{int(parts.path.rsplit('/', 1)[1]) - 1}")
        else:
            self._answer(200)

    def _answer(self, status: int, location: str | None = None) -> None:
        self.send_response(status)
        if location:
            self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):  # keep pytest output clean
        pass


@pytest.fixture
def redirector():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Redirector)
    server.seen = []
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _post(url: str, allowed=LOOPBACK) -> safe_http.HttpResponse:
    return safe_http.post(url, b'{"n":1}', {}, what="webhook", allowed_networks=allowed, timeout_s=5)


def _base(server) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def test_a_redirect_to_an_allowed_target_is_followed_with_the_same_body(redirector):
    response = _post(f"{_base(redirector)}/to?url={_base(redirector)}/ok")
    assert response.status == 200
    assert [(path, body) for path, _, body in redirector.seen] == [
        (f"/to?url={_base(redirector)}/ok", b'{"n":1}'), ("/ok", b'{"n":1}')]


@pytest.mark.parametrize(("location", "why"), [
    ("http://169.254.169.254/latest/meta-data/iam/", "metadata"),
    ("http://[::ffff:169.254.169.254]/latest/", "metadata"),
    ("http://10.0.0.1/admin", "private"),
    ("http://[::1]:{port}/ok", "loopback"),   # loopback, but only 127.0.0.0/8 is allowed
    ("ftp://93.184.216.34/x", "only http:// and https://"),
])
def test_every_redirect_is_checked_again(redirector, location, why):
    location = location.format(port=redirector.server_address[1])
    with pytest.raises(RefusedURL, match=why):
        _post(f"{_base(redirector)}/to?url={location}")
    assert len(redirector.seen) == 1  # the refused hop was never requested


def test_at_most_three_redirects_are_followed(redirector):
    assert _post(f"{_base(redirector)}/hops/3").status == 200
    assert len(redirector.seen) == 4
    with pytest.raises(RefusedURL, match="redirected more than 3 times"):
        _post(f"{_base(redirector)}/hops/4")


def test_the_client_connects_to_the_address_that_was_checked(redirector, monkeypatch):
    """DNS rebinding: the first answer (127.0.0.1) is allowed, later answers (127.0.0.2, outside
    the allow-list, where nothing listens) are not. The request must still reach 127.0.0.1, with
    the URL's host name in the Host header, and the name is resolved once."""
    real_getaddrinfo = socket.getaddrinfo
    asked = []

    def rebinding_dns(host, port, *args, **kwargs):
        if host != "rebind.invalid":
            return real_getaddrinfo(host, port, *args, **kwargs)
        asked.append(host)
        return real_getaddrinfo("127.0.0.1" if len(asked) == 1 else "127.0.0.2", port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding_dns)
    port = redirector.server_address[1]
    response = _post(f"http://rebind.invalid:{port}/ok", allowed=["127.0.0.1/32"])
    assert response.status == 200
    assert redirector.seen == [("/ok", f"rebind.invalid:{port}", b'{"n":1}')]
    assert asked == ["rebind.invalid"]


def test_a_receiver_that_is_down_is_a_retryable_failure():
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens on it
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(DeliveryError) as failed:
        _post(f"http://127.0.0.1:{port}/hook")
    assert failed.value.retryable is True
    assert "cannot connect to webhook http://127.0.0.1:" in str(failed.value)
