"""Typed elements that flow between the pipeline's transforms."""
from __future__ import annotations

from dataclasses import dataclass, field

from connectors.kafka import KafkaRecord
from pipelines.nlp.normalize import Normalized
from pipelines.nlp.tagging import TagResult


@dataclass
class Article:
    record: KafkaRecord
    item: dict
    language: str = "und"
    language_confidence: float = 0.0
    paragraph_languages: list[str] = field(default_factory=list)
    normalized: Normalized | None = None
    tagged: TagResult | None = None
    places: list[dict] = field(default_factory=list)

    @property
    def doc_id(self) -> str:
        return self.item["id"]


@dataclass(frozen=True)
class IndexRequest:
    """All documents of one article; durable only when every one of them is."""
    record: KafkaRecord
    item_id: str
    docs: tuple[tuple[str, str, dict], ...]  # (index, id, source)
