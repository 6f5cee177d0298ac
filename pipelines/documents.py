"""Article -> the documents to index: one article document, one per event, with stable ids.
Pure: the Beam transform and the record processor both call it."""
from __future__ import annotations

import re

from pipelines.model import Article, IndexRequest
from pipelines.settings import SearchSettings

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
        "repairs": article.repairs,
    }
    docs = [(settings.articles_index, article.doc_id, article_doc)]
    sentences = {s["index"]: s for s in tagged.sentences} if events else {}
    original = item["text"]
    for event in events:
        place = event["locations"][0]["canonical"] if event["locations"] else None
        sent = sentences.get(event["sentence"], {})
        doc = {**base, **event, "id": event_id(article.doc_id, event["sentence"], event["type"], place),
               "article_id": article.doc_id, "title": item.get("title", ""), "text": norm.display,
               "sentence_text": original[sent.get("start", 0):sent.get("end", 0)],
               "points": _points(event["locations"])}
        docs.append((settings.events_index, doc["id"], doc))
    return IndexRequest(article.record, article.doc_id, tuple(docs))
