"""Opt-in (pytest -m chaos): Kafka and OpenSearch restarted twice each mid-stream, the worker
SIGKILLed during every restart; nothing lost, nothing twice. It restarts the shared test stack's
servers, so run it alone: `.venv/bin/python -m pytest -m chaos`."""
import pytest

from newswatch.pipelines.chaos import ChaosRun
from newswatch.pipelines.settings import KafkaSettings, SearchSettings, Settings


@pytest.mark.chaos
def test_restarts_and_kills_lose_nothing_and_repeat_nothing(running_stack, tmp_path):
    base = Settings(kafka=KafkaSettings(bootstrap=f"127.0.0.1:{running_stack.kafka_port}"),
                    search=SearchSettings(url=f"http://127.0.0.1:{running_stack.search_http_port}"),
                    stack=running_stack)
    result = ChaosRun(base, 400, tmp_path / "chaos.log").run(timeout_s=900)
    print(result)
    assert result["lost"] == 0 and result["duplicates"] == 0 and result["unexpected_documents"] == 0
    assert result["indexed"] == result["sent_valid"] and result["dead_lettered"] == result["sent_bad"]
    assert result["valid_items_dead_lettered"] == 0
    assert result["dead_letters_written_twice"] == 0
    assert result["worker_kills"] == 4 and result["supervisor_alive_at_end"]
