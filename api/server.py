"""`newswatch api`: the app under uvicorn, and a server object tests can start on a free port."""
from __future__ import annotations

import ipaddress
import logging
import socket
import threading
import time

from newswatch.pipelines.logs import configure_logging
from newswatch.pipelines.settings import Settings

LOG = logging.getLogger("newswatch.api")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def uvicorn_config(app, **kwargs):
    import uvicorn

    # access_log off: uvicorn's would print query strings (the live feed may carry a token there);
    # api.limits.AccessLog logs each request without them.
    return uvicorn.Config(app, access_log=False, log_level="info", timeout_graceful_shutdown=3,
                          server_header=False, proxy_headers=False, **kwargs)


def serve(settings: Settings, host: str, port: int, say=print) -> int:
    import uvicorn

    from .app import create_app

    # newswatch's own lines (one per request) at INFO; the clients' chatter (a line per search call) only
    # when something is wrong
    configure_logging(logging.WARNING)
    logging.getLogger("newswatch").setLevel(logging.INFO)
    if not is_loopback(host):
        LOG.warning("listening on %s, beyond loopback: tokens travel in clear over plain HTTP, so put a TLS "
                    "proxy in front", host)
    say(f"newswatch: API and page on http://{host}:{port}/ (API docs: /docs, OpenAPI: /openapi.json); Ctrl-C stops",
        flush=True)
    uvicorn.Server(uvicorn_config(create_app(settings), host=host, port=port)).run()
    return 0


class BackgroundServer:
    """The app on a loopback port of its own, in a thread (tests, the demo)."""

    def __init__(self, app, host: str = "127.0.0.1") -> None:
        import uvicorn

        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind((host, 0))
        self.host, self.port = self.socket.getsockname()[:2]
        self.server = uvicorn.Server(uvicorn_config(app))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]},
                                       name="newswatch-api", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout_s: float = 30) -> BackgroundServer:
        self.thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError(f"the API did not start on {self.url} within {timeout_s} s")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)
        self.socket.close()
