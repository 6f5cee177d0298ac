"""`newswatch dlq list|replay` as a user runs them, against a real broker, a real OpenSearch node
and the real pipeline dead-lettering real messages."""
from __future__ import annotations

import base64
import json
import re
import signal
import subprocess
import sys


from newswatch.connectors import kafka
from newswatch.connectors.search import SearchBackend
from newswatch.pipelines.dlq import latest_per_source, read_letters
from newswatch.pipelines.model import DEAD_LETTER_REASONS

from .conftest import REPO_DIR, count, news_item, settings_env, wait_for

SENTENCES = [
    "Government warplanes carried out airstrikes on rebel positions near the town.",
    "The two sides agreed to extend the ceasefire for another month.",
    "The army sent reinforcements and tanks to the border.",
]


def newswatch_dlq(settings, *args: str, **env_overrides: str) -> subprocess.CompletedProcess:
    env = {**settings_env(settings), **env_overrides}
    return subprocess.run([sys.executable, "-m", "newswatch.pipelines.cli", "dlq", *args], env=env, cwd=REPO_DIR,
                          capture_output=True, text=True, timeout=180)


def letters_on_dlq(settings) -> list[dict]:
    return [letter.record for letter in latest_per_source(read_letters(settings.kafka)[0])]


def all_committed(settings) -> bool:
    ends = kafka.end_offsets(settings.kafka, settings.kafka.topic)
    committed = kafka.committed_offsets(settings.kafka, settings.kafka.topic)
    return all((committed.get(p) or 0) >= end for p, end in ends.items())


def test_dlq_list_shows_what_the_pipeline_dead_lettered(settings, pipeline):
    proc = pipeline()
    bad = {
        b"{not json": "bad_json",
        b"\xff\xfe\xfa not utf-8": "bad_utf8",
        json.dumps({"id": "no-url", "text": "hello"}).encode(): "schema",
        news_item("blank", "   "): "schema",
    }
    good = [news_item(f"good-{i}", SENTENCES[i % len(SENTENCES)]) for i in range(3)]
    kafka.produce(settings.kafka, list(bad) + good)
    wait_for(lambda: count(settings, settings.search.articles_index) == len(good), 120, "the valid items", proc)
    wait_for(lambda: len(letters_on_dlq(settings)) == len(bad), 60, "the dead letters", proc)

    listed = newswatch_dlq(settings, "list", "--json")
    assert listed.returncode == 0, listed.stderr
    records = [json.loads(line) for line in listed.stdout.splitlines()]
    by_original = {base64.b64decode(r["original_b64"]): r for r in records}
    assert {raw: r["reason"] for raw, r in by_original.items()} == bad
    assert all(r["source"]["topic"] == settings.kafka.topic and r["failed_at"] and r["error"] for r in records)

    table = newswatch_dlq(settings, "list", "--reason", "schema")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split()[:4] == ["failed_at", "reason", "source", "item_id"]
    rows = [line for line in lines[1:] if f"{settings.kafka.topic}:" in line]
    assert len(rows) == 2 and all(" schema " in row for row in rows)
    assert any("item-blank" in row for row in rows)
    assert "2 dead letter(s): schema 2" in table.stdout and DEAD_LETTER_REASONS["schema"] in table.stdout
    assert "bad_json" not in table.stdout

    recent = newswatch_dlq(settings, "list", "--since", "1h", "--json")
    assert len(recent.stdout.splitlines()) == len(bad)
    future = newswatch_dlq(settings, "list", "--since", "2999-01-01T00:00:00Z", "--json")
    assert future.returncode == 0 and future.stdout == ""

    unknown = newswatch_dlq(settings, "list", "--reason", "toolarge")
    assert unknown.returncode == 2
    assert unknown.stderr.startswith("newswatch: unknown dead-letter reason") and "too_large" in unknown.stderr

    missing_topic = f"{settings.kafka.dlq_topic}-missing"
    missing = newswatch_dlq(settings, "list", NEWSWATCH_KAFKA__DLQ_TOPIC=missing_topic)
    assert missing.returncode == 2
    assert missing.stderr.startswith(f"newswatch: the dead-letter topic '{missing_topic}' does not exist")


def _messages_with_value(settings, value: bytes) -> list:
    """Every message of the news topic whose value is `value`, read from the beginning."""
    return [m for m in kafka.read_topic(settings.kafka, settings.kafka.topic) if m.value == value]


def test_dlq_replay_sends_a_too_large_item_back_once_the_limit_is_raised(settings, pipeline, monkeypatch):
    articles = settings.search.articles_index
    backend = SearchBackend(settings.search)
    # 1) a pipeline with a small item limit dead-letters the big item
    settings.pipeline.max_item_bytes = 2000  # the child gets its settings from this object
    proc = pipeline()
    big = news_item("big", " ".join(SENTENCES * 12))
    assert len(big) > 2000
    kafka.produce(settings.kafka, [big, news_item("small", SENTENCES[0])], keys=[b"key-big", b"key-small"])
    wait_for(lambda: backend.get(articles, "item-small"), 120, "the small item", proc)
    wait_for(lambda: [r["reason"] for r in letters_on_dlq(settings)] == ["too_large"], 60, "the too_large letter", proc)
    wait_for(lambda: all_committed(settings), 60, "the offsets to be committed", proc)
    proc.kill(signal.SIGTERM)

    # 2) the user raises the limit; the restarted pipeline does not read the big item again by itself
    settings.pipeline.max_item_bytes = 1_000_000
    proc = pipeline()
    kafka.produce(settings.kafka, [news_item("marker", SENTENCES[1])])
    wait_for(lambda: backend.get(articles, "item-marker"), 120, "an item after the restart", proc)
    assert backend.get(articles, "item-big") is None

    refused = newswatch_dlq(settings, "replay", "--reason", "corrupt_batch", "--yes")
    assert refused.returncode == 2 and "original bytes are lost" in refused.stderr

    # 3) replay: the original bytes go back (without their key: letters do not record it); indexed
    replay = newswatch_dlq(settings, "replay", "--reason", "too_large", "--yes")
    assert replay.returncode == 0, replay.stderr
    assert f"sent 1 of 1 message(s) to {settings.kafka.topic}" in replay.stdout
    doc = wait_for(lambda: backend.get(articles, "item-big"), 120, "the replayed item", proc)
    assert doc["id"] == "item-big"
    copies = _messages_with_value(settings, big)
    assert sorted(m.key or b"" for m in copies) == [b"", b"key-big"]

    # 4) the letter stays on the DLQ; the --since the replay printed leaves it out next time
    assert [r["reason"] for r in letters_on_dlq(settings)] == ["too_large"]
    since = re.search(r"--since (\S+)", replay.stdout)
    assert since, replay.stdout
    again = newswatch_dlq(settings, "replay", "--reason", "too_large", "--since", since.group(1), "--yes")
    assert again.returncode == 0 and "nothing to replay" in again.stdout
    assert count(settings, articles) == 3
