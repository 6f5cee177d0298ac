"""`newswatch backfill`, `newswatch replay` and the lag in `newswatch stack status`, as a user runs
them (their progress bar on a real terminal: a pseudo-terminal), against a real broker, a real
OpenSearch node and the real pipeline."""
from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import threading

from newswatch.connectors import kafka
from newswatch.connectors.search import SearchBackend

from .conftest import REPO_DIR, count, news_item, settings_env, wait_for
from .test_metrics import SENTENCES, all_committed, free_port

CLI_TIMEOUT_S = 400


def newswatch(settings, *args: str, env: dict | None = None) -> tuple[int, str, str]:
    """Runs `newswatch ARGS` with stderr on a pseudo-terminal, as in a shell, so the progress bar is
    drawn. Returns (exit code, stdout, what the terminal showed)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 160, 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "newswatch.pipelines.cli", *args], env=env or settings_env(settings),
                            cwd=REPO_DIR, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    shown: list[bytes] = []

    def read_terminal() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the command exited and closed the terminal
                return
            if not data:
                return
            shown.append(data)

    reader = threading.Thread(target=read_terminal, daemon=True)
    reader.start()
    try:
        stdout, _ = proc.communicate(timeout=CLI_TIMEOUT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
        reader.join(10)
        os.close(master)
    return proc.returncode, stdout.decode(), b"".join(shown).decode(errors="replace")


def final_bar(terminal: str, label: str) -> str:
    """The last state of a tqdm bar (it redraws in place with carriage returns)."""
    states = [part for line in terminal.replace("\r\n", "\n").split("\n") for part in line.split("\r")
              if part.startswith(f"{label}:")]
    assert states, f"no {label} progress bar on the terminal:\n{terminal[-3000:]}"
    return states[-1]


def versions(settings, ids: list[str]) -> dict[str, int]:
    client = SearchBackend(settings.search).client
    return {i: client.get(index=settings.search.articles_index, id=i)["_version"] for i in ids}


def produce_to(settings, partition: int, values: list[bytes]) -> None:
    kafka.produce(settings.kafka, values, partition=partition)


def test_backfill_of_csv_and_jsonl_gets_indexed_with_the_bar_finishing(settings, tmp_path):
    settings.pipeline.metrics_port = free_port()
    csv_file = tmp_path / "items.csv"
    csv_file.write_text(
        "id,url,title,text,published_at,source,language\n"
        + "".join(f'csv-{i},https://news.example.invalid/csv/{i},CSV {i},"{SENTENCES[i % 3]}",2026-11-25T08:00:00Z,'
                  f"backfill-test,en\n" for i in range(3))
        + 'csv-3,https://news.example.invalid/csv/3,CSV 3,"Shelling, officials said, hit the port.",,backfill-test,\n',
        encoding="utf-8")
    jsonl_file = tmp_path / "items.jsonl"
    jsonl_file.write_bytes(b"\n".join(news_item(f"jsonl-{i}", SENTENCES[i % 3]) for i in range(3)) + b"\n")

    code, out, terminal = newswatch(settings, "backfill", str(csv_file), str(jsonl_file), "--run",
                                    "--timeout", "300")
    assert code == 0, out + terminal
    assert f"sent 7 item(s) from 2 file(s) to {settings.kafka.topic}" in out
    assert "processed 7 of 7 item(s)" in out
    bar = final_bar(terminal, "backfill")
    assert "100%" in bar and "7/7" in bar and "dead letters 0" in bar and re.search(r"\d(item/s|s/item)", bar)
    assert count(settings, settings.search.articles_index) == 7
    assert all_committed(settings)
    article = SearchBackend(settings.search).get(settings.search.articles_index, "csv-3")
    assert article["title"] == "CSV 3" and "officials said" in json.dumps(article)


def test_backfill_refuses_invalid_items_and_sends_nothing(settings, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("id,url,title,text,published_at,source\n"
                   "ok-1,https://x.invalid/1,T,Tanks moved north.,,src\n"
                   "ok-2,https://x.invalid/2,T,Tanks moved north.,last week,src\n", encoding="utf-8")
    code, out, terminal = newswatch(settings, "backfill", str(bad))
    assert code == 2 and out == ""
    assert "\nnewswatch: 1 item(s) cannot be sent, nothing was sent" in "\n" + terminal.replace("\r\n", "\n")
    assert f"{bad}:3: schema violation at published_at" in terminal and "--skip-invalid" in terminal
    consumer = kafka.new_consumer(settings.kafka)
    try:
        assert not consumer.partitions_for_topic(settings.kafka.topic)  # not even the topic was made
    finally:
        consumer.close()


def test_replay_from_an_offset_processes_one_partition_again(settings, pipeline):
    settings.pipeline.metrics_port = free_port()
    proc = pipeline()
    on_0 = [news_item(f"p0-{i}", SENTENCES[i % 3]) for i in range(5)] + [b"{not json"]
    on_1 = [news_item(f"p1-{i}", SENTENCES[i % 3]) for i in range(2)]
    produce_to(settings, 0, on_0)
    produce_to(settings, 1, on_1)
    wait_for(lambda: all_committed(settings) and count(settings, settings.search.articles_index) == 7, 180,
             "the first pass", proc)
    proc.kill()
    ids_0, ids_1 = [f"item-p0-{i}" for i in range(5)], [f"item-p1-{i}" for i in range(2)]
    before = versions(settings, ids_0 + ids_1)

    code, out, terminal = newswatch(settings, "replay", "--from-offset", "0:0", "--yes", "--run", "--timeout", "300")
    assert code == 0, out + terminal
    assert "partition 0: from offset 0 (the group is at 6) to 6: 6 item(s)" in out
    assert f"rewound consumer group {settings.kafka.group_id}: 6 item(s) to process" in out
    assert "processed 6 of 6 item(s)" in out and "1 dead-lettered" in out
    bar = final_bar(terminal, "replay")
    assert "100%" in bar and "6/6" in bar and "dead letters 1" in bar
    after = versions(settings, ids_0 + ids_1)
    assert {i: after[i] - before[i] for i in ids_0} == {i: 1 for i in ids_0}  # overwritten once, not doubled
    assert {i: after[i] for i in ids_1} == {i: before[i] for i in ids_1}
    assert count(settings, settings.search.articles_index) == 7

    # --from-time rewinds every partition to its first message since then; --no-wait only rewinds
    code, out, terminal = newswatch(settings, "replay", "--from-time", "1h", "--yes", "--no-wait")
    assert code == 0, out + terminal
    assert "partition 0: from offset 0 (the group is at 6) to 6: 6 item(s)" in out
    assert "partition 1: from offset 0 (the group is at 2) to 2: 2 item(s)" in out
    assert kafka.committed_offsets(settings.kafka, settings.kafka.topic) == {0: 0, 1: 0, 2: None}  # 2 is empty

    code, out, terminal = newswatch(settings, "replay", "--from-offset", "0:7", "--yes")
    assert code == 2 and "newswatch: offset 7 is past the end of partition 0 (6)" in terminal


def test_stack_status_shows_the_consumer_lag(settings, running_stack):
    kafka.ensure_topics(settings.kafka)
    produce_to(settings, 0, [news_item(f"lag-{i}", SENTENCES[0]) for i in range(4)])
    produce_to(settings, 2, [news_item("lag-x", SENTENCES[1])])
    kafka.commit(settings.kafka, settings.kafka.topic, 0, 1)
    stack_env = {f"NEWSWATCH_STACK__{name.upper()}": str(getattr(running_stack, name))
                 for name in ("home", "kafka_port", "search_http_port", "es_http_port")}
    result = subprocess.run([sys.executable, "-m", "newswatch.pipelines.cli", "stack", "status"],
                            env={**settings_env(settings), **stack_env}, cwd=REPO_DIR, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any(line.split()[:2] == ["kafka", str(running_stack.kafka_port)] and "running" in line for line in lines)
    start = lines.index(f"consumer lag of group {settings.kafka.group_id} on {settings.kafka.topic}:")
    assert [line.split() for line in lines[start + 2:start + 6]] == [
        ["0", "1", "4", "3"], ["1", "-", "0", "0"], ["2", "-", "1", "1"], ["total", "4"]]
