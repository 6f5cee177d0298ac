"""Fixtures that fetch and start a real Kafka broker and a real OpenSearch node on loopback
(through connectors.stack, the code behind `newswatch stack up`) and run the real pipeline."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from newswatch.connectors import stack
from newswatch.connectors.search import SearchBackend
from newswatch.pipelines.settings import REPO_DIR, AlertSettings, KafkaSettings, SearchSettings, Settings, StackSettings, as_environment
from newswatch.pipelines.streaming import prepare

TEST_STACK = StackSettings(home=REPO_DIR / "var" / "test-stack", kafka_port=29092, kafka_controller_port=29093,
                           search_http_port=29200, search_transport_port=29300,
                           es_http_port=29201, es_transport_port=29301)


LOG_TAIL_LINES = 60


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test's report carries the tail of every log its processes wrote under tmp_path
    (pipeline, delivery worker, Prism...), so a failure in CI says what the processes saw."""
    outcome = yield
    report = outcome.get_result()
    tmp_path = getattr(item, "funcargs", {}).get("tmp_path")
    if report.when != "call" or not report.failed or tmp_path is None:
        return
    for log in sorted(Path(tmp_path).rglob("*.log")):
        lines = log.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]
        report.sections.append((f"log {log.relative_to(tmp_path)} (last {len(lines)} lines)", "\n".join(lines)))


@pytest.fixture(scope="session")
def running_stack():
    try:
        stack.up(TEST_STACK)
    except stack.StackError as err:
        pytest.fail(f"could not start the local stack: {err}")
    yield TEST_STACK
    if not os.environ.get("NEWSWATCH_KEEP_TEST_STACK"):
        stack.down(TEST_STACK)


@pytest.fixture
def settings(running_stack) -> Settings:
    """Settings of one test: its own topics, consumer group and indices."""
    tag = uuid.uuid4().hex[:8]
    s = Settings(
        kafka=KafkaSettings(bootstrap=f"127.0.0.1:{running_stack.kafka_port}", topic=f"news-{tag}",
                            dlq_topic=f"news-{tag}.dlq", group_id=f"newswatch-{tag}", partitions=3),
        search=SearchSettings(url=f"http://127.0.0.1:{running_stack.search_http_port}",
                              articles_index=f"nw-{tag}-articles", events_index=f"nw-{tag}-events",
                              subscriptions_index=f"nw-{tag}-subscriptions", alerts_index=f"nw-{tag}-alerts"),
        alerts=AlertSettings(topic=f"alerts-{tag}", dlq_topic=f"alerts-{tag}.dlq", group_id=f"newswatch-alerts-{tag}",
                             allowed_networks=["127.0.0.0/8"]),
        stack=running_stack,
    )
    yield s
    SearchBackend(s.search).delete_indices()


def settings_env(s: Settings) -> dict[str, str]:
    """The environment of a child process that runs with these settings (and no newswatch.yaml)."""
    return as_environment(s)


class PipelineProcess:
    """`newswatch run` in its own process group, so SIGKILL takes Prism down with it."""

    def __init__(self, s: Settings, log: Path, command: list[str] | None = None, cwd: Path = REPO_DIR,
                 env: dict[str, str] | None = None) -> None:
        self.settings = s
        self.log = log
        self.command = command or [sys.executable, "-m", "newswatch.pipelines.cli", "run"]
        self.cwd = cwd
        self.env = {**settings_env(s), **(env or {})}
        self.proc: subprocess.Popen | None = None

    def start(self) -> PipelineProcess:
        out = self.log.open("ab")
        self.proc = subprocess.Popen(self.command, env=self.env, stdout=out, stderr=subprocess.STDOUT, cwd=self.cwd,
                                     start_new_session=True)
        return self

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=60)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


@pytest.fixture
def pipeline(settings, tmp_path):
    prepare(settings)
    procs: list[PipelineProcess] = []

    def start() -> PipelineProcess:
        proc = PipelineProcess(settings, tmp_path / "pipeline.log").start()
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        proc.kill()


def wait_for(predicate, timeout_s: float, what: str, proc: PipelineProcess | None = None):
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        if proc is not None and not proc.alive():
            pytest.fail(f"the pipeline exited while waiting for {what}:\n{proc.log_tail()}")
        time.sleep(0.5)
    tail = proc.log_tail() if proc else ""
    pytest.fail(f"timed out after {timeout_s}s waiting for {what} (last: {last!r})\n{tail}")


def count(s: Settings, index: str) -> int:
    backend = SearchBackend(s.search)
    backend.refresh(index)
    return backend.count(index)


def news_item(i: int | str, text: str, **extra) -> bytes:
    item = {"id": f"item-{i}", "url": f"https://news.example.invalid/{i}", "title": f"item {i}", "text": text,
            "published_at": "2026-11-25T08:00:00Z", "source": "newswatch-tests", **extra}
    return json.dumps(item, ensure_ascii=False).encode("utf-8")


@pytest.fixture(scope="session")
def elasticsearch_running(running_stack):
    """Elasticsearch's integ-test distribution from Maven Central; skipped when not served."""
    try:
        stack.resolve_elasticsearch(running_stack)
    except stack.StackError as err:
        pytest.skip(f"Elasticsearch backend not testable here: {err}")
    stack.start_elasticsearch(running_stack)
    yield running_stack
    stack.stop(running_stack, "elasticsearch")
