"""The `portable` runner for real: Prism started as a standalone Beam job service, and the
pipeline submitted to its endpoint: the client path a Flink or Spark job server takes."""
from __future__ import annotations

import socket
import subprocess
import time

import pytest

from newswatch.connectors import kafka

from .conftest import REPO_DIR, count, news_item, wait_for
from .test_streaming import SENTENCES, _all_committed


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def job_service(tmp_path):
    prism = REPO_DIR / "var" / "bin" / "prism"
    if not prism.exists():
        pytest.skip("var/bin/prism is missing: run ./setup.sh")
    port = _free_port()
    with (tmp_path / "prism.log").open("ab") as log:
        proc = subprocess.Popen([str(prism), f"--job_port={port}", "--serve_http=false"], stdout=log,
                                stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.2)
    yield f"localhost:{port}"
    proc.terminate()
    proc.wait(timeout=30)


def test_the_pipeline_runs_on_a_job_service_it_did_not_start(settings, pipeline, job_service):
    settings.pipeline.runner = "portable"
    settings.pipeline.job_endpoint = job_service
    proc = pipeline()
    kafka.produce(settings.kafka, [news_item(f"p{i}", SENTENCES[i % len(SENTENCES)]) for i in range(20)])
    wait_for(lambda: count(settings, settings.search.articles_index) == 20 and _all_committed(settings), 240,
             "the items, through the external job service", proc)
