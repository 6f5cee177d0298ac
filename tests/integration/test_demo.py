"""The README's main command, `newswatch demo`, against the test stack (its own topic and indices)."""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys

from newswatch.connectors.search import SearchBackend

from .conftest import REPO_DIR, settings_env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_demo_streams_the_sample_news_and_reports_what_was_indexed(settings):
    env = settings_env(settings)
    stack = settings.stack
    env.update({"NEWSWATCH_STACK__HOME": str(stack.home), "NEWSWATCH_STACK__KAFKA_PORT": str(stack.kafka_port),
                "NEWSWATCH_STACK__KAFKA_CONTROLLER_PORT": str(stack.kafka_controller_port),
                "NEWSWATCH_STACK__SEARCH_HTTP_PORT": str(stack.search_http_port),
                "NEWSWATCH_STACK__SEARCH_TRANSPORT_PORT": str(stack.search_transport_port)})
    env["NEWSWATCH_API__PORT"] = str(_free_port())
    done = subprocess.run([sys.executable, "-m", "newswatch.pipelines.cli", "demo", "--timeout", "240"], env=env, cwd=REPO_DIR,
                          capture_output=True, text=True, timeout=600)
    api_pid = re.search(r"`kill (\d+)` stops it", done.stdout)
    if api_pid:
        os.kill(int(api_pid.group(1)), signal.SIGTERM)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert api_pid and "sign in with the admin token" in done.stdout and "kibana import" in done.stdout
    sample = [json.loads(line) for line in (REPO_DIR / "deploy" / "sample" / "news.jsonl").read_text().splitlines()
              if line.strip().startswith("{") and line.strip().endswith("}")]
    valid = [item for item in sample if item.get("text")]
    assert f"articles: {len(valid)}" in done.stdout
    for event_type in ("offensive", "ceasefire", "troop_buildup"):
        assert event_type in done.stdout
    alerts = [line for line in done.stdout.splitlines() if "alert →" in line]
    assert alerts and all("after the news reached Kafka" in line for line in alerts)
    backend = SearchBackend(settings.search)
    backend.refresh(settings.search.articles_index)
    assert backend.count(settings.search.articles_index) == len(valid)
    # the sample's warning-only and off-topic items carry no events
    for quiet in ("ar-004", "ar-005", "en-004", "en-005", "fr-001"):
        assert backend.get(settings.search.articles_index, quiet)["labels"] == []
