"""The per-article steps in pipeline order, pure (no Beam, no I/O), and the guard that turns any
failure of one step on one article into a dead letter.

The Beam transforms call these one stage each; `process_record` chains them for the fuzz suite
and for the poison isolation, so both run exactly what the pipeline runs.
"""
from __future__ import annotations

import traceback
from collections.abc import Callable

from newswatch.pipelines.model import Article, DeadLetter, IndexRequest, KafkaRecord
from newswatch.pipelines.nlp import language
from newswatch.pipelines.nlp import normalize as nlp_normalize
from newswatch.pipelines.nlp.tagging import MAX_TEXT, Tagger


def detect_language(article: Article) -> Article:
    text = article.item["text"]
    guess = language.detect_language(f"{article.item.get('title', '')}\n{text}")
    article.language, article.language_confidence = guess.code, guess.confidence
    article.paragraph_languages = sorted({p.code for p in language.detect_paragraphs(text[:20000])})
    return article


def normalize_text(article: Article) -> Article:
    article.normalized = nlp_normalize.normalize(article.item["text"][:MAX_TEXT])
    return article


def tag_events(article: Article, tagger: Tagger) -> Article:
    truncated = len(article.item["text"]) > MAX_TEXT
    article.tagged = tagger.tag_normalized(article.normalized, article.language, article.language_confidence,
                                           truncated)
    return article


def gather_places(article: Article) -> Article:
    """Distinct geocoded places of an article's events, for map search (geo_point)."""
    seen: dict[str, dict] = {}
    for event in article.tagged.events if article.tagged else []:
        for loc in event.locations:
            if loc.canonical not in seen:
                seen[loc.canonical] = {"canonical": loc.canonical, "country": loc.country, "lat": loc.lat,
                                       "lon": loc.lon}
    article.places = list(seen.values())
    return article


def failure_letter(stage: str, record: KafkaRecord, item_id: str | None, err: BaseException) -> DeadLetter:
    detail = "".join(traceback.format_exception_only(type(err), err)).strip()[:2000]
    return DeadLetter("processing_error", f"{stage} failed: {detail}; this is a newswatch bug, please report it with "
                      "the original item from this record", stage, record, item_id)


def guarded(stage: str, step: Callable, article: Article, *args):
    """step(article, *args), or the dead letter of its failure. Exception covers RecursionError,
    MemoryError on one item and errors raised inside third-party code; only the interpreter's own
    exits (KeyboardInterrupt, SystemExit) pass through."""
    try:
        return step(article, *args)
    except Exception as err:  # noqa: BLE001 - one item's failure must never stop the stream
        return failure_letter(stage, article.record, article.item.get("id"), err)


class RecordProcessor:
    """The whole chain for one record without Beam: parse, the NLP steps, the documents. Owns
    what the steps load once (validator, tagger)."""

    def __init__(self, search_settings, max_item_bytes: int, tagger: Tagger | None = None) -> None:
        from newswatch.pipelines.parsing import news_item_validator

        self.search_settings = search_settings
        self.max_item_bytes = max_item_bytes
        self.validator = news_item_validator()
        self.tagger = tagger or Tagger()

    def process(self, record: KafkaRecord, now: str) -> IndexRequest | DeadLetter:
        from newswatch.pipelines.documents import to_documents
        from newswatch.pipelines.parsing import parse_item

        result = parse_item(record, self.validator, self.max_item_bytes)
        for stage, step, args in (("language", detect_language, ()), ("normalize", normalize_text, ()),
                                  ("tagging", tag_events, (self.tagger,)), ("geo", gather_places, ()),
                                  ("documents", to_documents, (self.search_settings, now))):
            if isinstance(result, DeadLetter):
                return result
            result = guarded(stage, step, result, *args)
        return result
