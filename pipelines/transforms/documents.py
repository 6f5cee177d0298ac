"""Article -> the documents to index: one article document, one per event, with stable ids."""
from __future__ import annotations

import re
import time

import apache_beam as beam

from pipelines.settings import SearchSettings

from .elements import Article, IndexRequest

_SLUG = re.compile(r"[^0-9A-Za-z]+")


def event_id(article_id: str, sentence: int, event_type: str, place: str | None) -> str:
    """Same article, sentence, type and place -> same id, so a replay overwrites."""
    slug = _SLUG.sub("-", place or "").strip("-").lower() or "none"
    return f"{article_id}:{sentence}:{event_type}:{slug}"


def _points(locations) -> list[dict]:
    return [{"lat": p["lat"], "lon": p["lon"]} for p in locations if p.get("lat") is not None]


def to_documents(article: Article, settings: SearchSettings, now: str) -> IndexRequest:
    item, tagged, norm = article.item, article.tagged, article.normalized
    events = [e.as_dict() for e in tagged.events]
    base = {"url": item["url"], "source": item["source"], "language": article.language,
            "published_at": item.get("published_at"), "ingested_at": now}
    article_doc = {
        **base, "id": article.doc_id, "title": item.get("title", ""), "text": norm.display,
        "language_confidence": article.language_confidence, "paragraph_languages": article.paragraph_languages,
        "labels": sorted(tagged.labels), "event_count": len(events),
        "actors": sorted({a["canonical"] for e in events for a in e["actors"]}),
        "places": [p["canonical"] for p in article.places],
        "countries": sorted({p["country"] for p in article.places if p.get("country")}),
        "points": _points(article.places), "truncated": tagged.truncated, "kafka": article.record.source,
    }
    docs = [(settings.articles_index, article.doc_id, article_doc)]
    sentences = {s["index"]: s for s in tagged.sentences} if events else {}
    original = item["text"]
    for event in events:
        place = event["locations"][0]["canonical"] if event["locations"] else None
        sent = sentences.get(event["sentence"], {})
        doc = {**base, **event, "id": event_id(article.doc_id, event["sentence"], event["type"], place),
               "article_id": article.doc_id, "title": item.get("title", ""),
               "sentence_text": original[sent.get("start", 0):sent.get("end", 0)],
               "points": _points(event["locations"])}
        docs.append((settings.events_index, doc["id"], doc))
    return IndexRequest(article.record, article.doc_id, tuple(docs))


class ToDocuments(beam.PTransform):
    def __init__(self, settings: SearchSettings) -> None:
        super().__init__()
        self.settings = settings

    def expand(self, articles):
        settings = self.settings
        return articles | "Documents" >> beam.Map(
            lambda a: to_documents(a, settings, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())))
