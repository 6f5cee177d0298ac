"""Pure pieces of the streaming pipeline, without servers: validation, dead letters, the offset
frontier, document ids, settings."""
import base64
import json

import jsonschema
import pytest

from newswatch.connectors.kafka_io import _Frontier
from newswatch.pipelines.model import Article, DeadLetter, Done, KafkaRecord
from newswatch.pipelines.nlp.resources import SCHEMA_DIR
from newswatch.pipelines.settings import Settings
from newswatch.pipelines.documents import event_id, to_documents
from newswatch.pipelines.parsing import news_item_validator, parse_item


def record(value: bytes, offset: int = 7) -> KafkaRecord:
    return KafkaRecord("news", 0, offset, offset - 1, 1_700_000_000_000, None, value)


@pytest.fixture(scope="module")
def validator():
    return news_item_validator()


def good(**overrides) -> bytes:
    item = {"id": "a-1", "url": "https://x.invalid/1", "title": "t", "text": "Troops massed at the border.",
            "published_at": "2026-11-25T08:00:00Z", "source": "test", **overrides}
    return json.dumps(item).encode()


@pytest.mark.parametrize("value, reason", [
    (b"", "empty"), (b"   \n", "empty"), (b"x" * 2001, "too_large"), (b"\xff\xfe", "bad_utf8"),
    (b"{oops", "bad_json"), (b"[1, 2]", "schema"), (json.dumps({"id": "x"}).encode(), "schema"),
    (good(text="   "), "schema"), (good(published_at="yesterday"), "schema"), (good(id="has space"), "schema"),
])
def test_invalid_messages_become_dead_letters_with_a_reason(validator, value, reason):
    letter = parse_item(record(value), validator, max_bytes=2000)
    assert isinstance(letter, DeadLetter) and letter.reason == reason and letter.error


def test_valid_message_becomes_an_article(validator):
    article = parse_item(record(good()), validator, max_bytes=2000)
    assert isinstance(article, Article) and article.doc_id == "a-1"


def test_dead_letter_record_matches_its_schema_and_keeps_the_original_bytes():
    original = b"\xff not utf-8"
    payload = json.loads(DeadLetter("bad_utf8", "not valid UTF-8", "validate", record(original)).to_json())
    jsonschema.validate(payload, json.loads((SCHEMA_DIR / "dlq_record.schema.json").read_text()))
    assert base64.b64decode(payload["original_b64"]) == original
    assert payload["source"] == {"topic": "news", "partition": 0, "offset": 7}


def _done(offset: int, prev: int, first_of_read: bool = False):
    return Done.of(KafkaRecord("news", 0, offset, prev, 0, None, b"", first_of_read=first_of_read))


def test_frontier_advances_only_over_contiguous_durable_records():
    f = _Frontier(last_durable=9)          # committed offset was 10
    f.add(_done(12, 11))                   # ahead of a gap: nothing moves
    assert f.last_durable == 9
    f.add(_done(10, 9))
    assert f.last_durable == 10
    f.add(_done(11, 10))                   # fills the gap: 11 and the waiting 12
    assert f.last_durable == 12


def test_frontier_follows_log_gaps_through_prev_offsets():
    f = _Frontier(last_durable=4)
    f.add(_done(9, 4))                     # offsets 5-8 do not exist (compaction, markers)
    assert f.last_durable == 9


def _read(first: int, last: int) -> list:
    """The Done records of one read of offsets first..last, in the order the writers mark them
    (a dead letter can be marked before the batch it overtook)."""
    chain = [_done(o, o - 1, first_of_read=o == first) for o in range(first, last + 1)]
    return chain[1:] + chain[:1]


def test_frontiers_of_two_processes_that_share_a_partitions_reads_both_keep_moving():
    a, b = _Frontier(last_durable=-1), _Frontier(last_durable=-1)
    for worker, (first, last) in ((a, (0, 9)), (b, (10, 19)), (a, (20, 29)), (a, (30, 34)), (b, (35, 39))):
        for done in _read(first, last):
            worker.add(done)
        assert worker.last_durable == last  # what this process commits at the end of the bundle
    assert a.committed == 19 and b.committed == 34 and not a.ahead and not b.ahead


def test_frontier_does_not_jump_on_a_record_that_does_not_start_a_read():
    f = _Frontier(last_durable=9)
    f.add(_done(12, 11))
    assert f.last_durable == 9 and f.ahead == {11: 12}


def test_frontier_ignores_replayed_records():
    f = _Frontier(last_durable=20)
    f.add(_done(15, 14))
    assert f.last_durable == 20 and not f.ahead


def test_event_ids_are_deterministic_and_safe():
    assert event_id("a-1", 120, "offensive") == "a-1:120:offensive"
    assert event_id("a-1", 120, "offensive") != event_id("a-1", 121, "offensive") != event_id("a-1", 121, "ceasefire")


def test_documents_of_an_article(validator):
    from newswatch.pipelines.nlp.normalize import normalize
    from newswatch.pipelines.nlp.tagging import tag

    text = "The army sent reinforcements to Raqqa. Warplanes carried out airstrikes near Raqqa."
    article = parse_item(record(good(text=text)), validator, max_bytes=10_000)
    article.language, article.normalized, article.tagged = "en", normalize(text), tag(text, "en")
    request = to_documents(article, Settings().search, "2026-11-25T08:00:00Z")
    indices = [index for index, _, _ in request.docs]
    assert indices.count(Settings().search.articles_index) == 1 and len(indices) == 3
    events = [doc for index, _, doc in request.docs if index == Settings().search.events_index]
    assert {e["type"] for e in events} == {"troop_buildup", "offensive"}
    for e in events:
        assert text[e["trigger"]["start"]:e["trigger"]["end"]] == e["trigger"]["text"]
        assert e["points"] and e["article_id"] == "a-1"


def test_settings_precedence_environment_over_file_over_defaults(tmp_path, monkeypatch):
    config = tmp_path / "nw.yaml"
    config.write_text("kafka: {topic: from-file, group_id: file-group}\nsearch: {backend: elasticsearch}\n")
    monkeypatch.setenv("NEWSWATCH_CONFIG", str(config))
    monkeypatch.setenv("NEWSWATCH_KAFKA__TOPIC", "from-env")
    s = Settings()
    assert s.kafka.topic == "from-env" and s.kafka.group_id == "file-group"
    assert s.search.backend == "elasticsearch" and s.kafka.bootstrap == "127.0.0.1:19092"


def test_settings_reject_unknown_values(tmp_path, monkeypatch):
    config = tmp_path / "nw.yaml"
    config.write_text("search: {backend: solr}\n")
    monkeypatch.setenv("NEWSWATCH_CONFIG", str(config))
    with pytest.raises(Exception, match="backend"):
        Settings()
    monkeypatch.setenv("NEWSWATCH_CONFIG", str(tmp_path / "missing.yaml"))
    with pytest.raises(FileNotFoundError, match="NEWSWATCH_CONFIG"):
        Settings()


def test_runner_options_for_each_runner(tmp_path):
    from newswatch.pipelines.streaming import runner_options

    s = Settings()
    s.pipeline.prism_binary = tmp_path / "prism"
    s.pipeline.prism_binary.write_text("")
    prism = runner_options(s).get_all_options()
    assert prism["runner"] == "PrismRunner" and prism["environment_type"] == "LOOPBACK" and prism["streaming"]
    s.pipeline.runner, s.pipeline.job_endpoint = "portable", "jobs.example:8099"
    assert runner_options(s).get_all_options()["job_endpoint"] == "jobs.example:8099"
    s.pipeline.runner = "flink"
    with pytest.raises(FileNotFoundError, match="flink_job_server_jar is not set.*never lets Beam download"):
        runner_options(s)
    s.pipeline.flink_job_server_jar = tmp_path / "job-server.jar"
    s.pipeline.flink_job_server_jar.write_text("")
    flink = runner_options(s).get_all_options()
    assert flink["runner"] == "FlinkRunner" and flink["flink_job_server_jar"] == str(tmp_path / "job-server.jar")
