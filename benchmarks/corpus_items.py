"""Reading an unlabelled JSONL corpus (../shared/corpus: measurement only, read at run time, never
copied): each item with the text the pipeline tags, its title and body."""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path


def article_text(item: dict) -> str:
    title = (item.get("title") or "").strip()
    text = item.get("text") or ""
    return f"{title}\n\n{text}" if title else text


def corpus_articles(path: Path) -> Iterator[tuple[dict, str]]:
    """(item, its article text) for every non-blank line."""
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                item = json.loads(line)
                yield item, article_text(item)
