"""Article -> the documents to index: one article document, one per event, with stable ids.
Pure: the Beam transform and the record processor both call it."""
from __future__ import annotations

import json

from newswatch.pipelines.model import Article, IndexRequest
from newswatch.pipelines.settings import SearchSettings


def event_id(article_id: str, trigger_start: int, event_type: str) -> str:
    """One event per trigger: the same article, trigger position and type give the same id, so a
    replay overwrites; a trigger the rules no longer fire on leaves a stale id, which the writer
    deletes (the article document lists its event ids)."""
    return f"{article_id}:{trigger_start}:{event_type}"


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
    event_docs: dict[str, dict] = {}
    sentences = {s["index"]: s for s in tagged.sentences} if events else {}
    original = item["text"]
    for event in events:
        sent = sentences.get(event["sentence"], {})
        doc = {**base, **event, "id": event_id(article.doc_id, event["trigger"]["start"], event["type"]),
               "article_id": article.doc_id, "title": item.get("title", ""), "text": norm.display,
               "sentence_text": original[sent.get("start", 0):sent.get("end", 0)],
               "points": _points(event["locations"])}
        event_docs.setdefault(doc["id"], doc)  # one event per trigger and type
    article_doc["event_ids"] = sorted(event_docs)
    docs = [(settings.articles_index, article.doc_id, article_doc)]
    docs += [(settings.events_index, doc_id, doc) for doc_id, doc in event_docs.items()]
    for _, _, doc in docs:
        # What the search client will do, here where a failure stays with this record: a document
        # that cannot be sent (an infinity, text Unicode forbids) would stall the bulk writer.
        json.dumps(doc, ensure_ascii=False, allow_nan=False).encode("utf-8")
    return IndexRequest(article.record, article.doc_id, tuple(docs))
