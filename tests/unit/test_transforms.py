"""Each pure composite of the pipeline under Beam's TestPipeline, on Beam's in-process FnApiRunner
(no servers): what goes out of the main output and what is dead-lettered. The I/O composites
(reading Kafka, the outbox writer) run against the real servers in tests/integration/."""
from __future__ import annotations

import json

import apache_beam as beam
import pytest
from apache_beam.runners.portability.fn_api_runner import FnApiRunner
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to

from newswatch.pipelines.model import KafkaRecord
from newswatch.pipelines.settings import SearchSettings
from newswatch.pipelines.transforms.documents import ToDocuments
from newswatch.pipelines.transforms.geo import Geocode
from newswatch.pipelines.transforms.language import DetectLanguage
from newswatch.pipelines.transforms.normalize import NormalizeText
from newswatch.pipelines.transforms.tagging import TagEvents
from newswatch.pipelines.transforms.validate import DEAD, ParseAndValidate

STRIKE = "Government warplanes carried out airstrikes on rebel positions near Idlib on Tuesday."
TRUCE = "أعلن الطرفان وقفا لإطلاق النار في غزة اعتبارا من منتصف الليل."


def record(offset: int, value: bytes) -> KafkaRecord:
    return KafkaRecord("news", 0, offset, offset - 1, 1_764_000_000_000, None, value)


def item(i: str, text: str) -> bytes:
    return json.dumps({"id": i, "url": f"https://news.example.invalid/{i}", "title": "", "text": text,
                       "published_at": "2026-11-30T08:00:00Z", "source": "tests"}, ensure_ascii=False).encode()


@pytest.fixture
def pipeline():
    with BeamTestPipeline(runner=FnApiRunner()) as p:
        yield p


def test_parse_and_validate_keeps_good_items_and_dead_letters_each_bad_one_with_its_reason(pipeline):
    records = pipeline | beam.Create([record(0, item("a-1", STRIKE)), record(1, b"\xff\xfe"), record(2, b"{not json"),
                                      record(3, b""), record(4, json.dumps({"id": "x"}).encode())])
    parsed = records | ParseAndValidate(max_bytes=100_000)
    assert_that(parsed.articles | beam.Map(lambda a: a.doc_id), equal_to(["a-1"]), label="articles")
    assert_that(parsed[DEAD] | beam.Map(lambda d: (d.record.offset, d.reason)),
                equal_to([(1, "bad_utf8"), (2, "bad_json"), (3, "empty"), (4, "schema")]), label="dead letters")


def test_the_article_steps_detect_normalize_tag_and_geocode(pipeline):
    parsed = (pipeline | beam.Create([record(0, item("en-1", STRIKE)), record(1, item("ar-1", TRUCE))])
              | ParseAndValidate(max_bytes=100_000))
    articles, dead = parsed.articles, [parsed[DEAD]]
    for label, transform in (("Language", DetectLanguage()), ("Normalize", NormalizeText()),
                             ("Tagging", TagEvents()), ("Geo", Geocode())):
        articles, failed = articles | label >> transform
        dead.append(failed)
    summary = articles | beam.Map(lambda a: (a.doc_id, a.language, sorted({e.type for e in a.tagged.events})))
    assert_that(summary, equal_to([("en-1", "en", ["offensive"]), ("ar-1", "ar", ["ceasefire"])]), label="tagged")
    assert_that(dead | beam.Flatten(), equal_to([]), label="nothing dead-lettered")


def test_to_documents_gives_each_article_its_documents_with_stable_ids(pipeline):
    settings = SearchSettings(articles_index="arts", events_index="evts")
    parsed = pipeline | beam.Create([record(0, item("en-1", STRIKE))]) | ParseAndValidate(max_bytes=100_000)
    articles = parsed.articles
    for label, transform in (("Language", DetectLanguage()), ("Normalize", NormalizeText()),
                             ("Tagging", TagEvents()), ("Geo", Geocode())):
        articles, _ = articles | label >> transform
    requests, dead = articles | ToDocuments(settings)
    docs = requests | beam.FlatMap(lambda r: [(index, doc_id.split(":")[0]) for index, doc_id, _ in r.docs])
    assert_that(docs, equal_to([("arts", "en-1"), ("evts", "en-1")]), label="documents")
    assert_that(dead, equal_to([]), label="no dead letters")
