import apache_beam as beam

from pipelines.nlp import language

from .elements import Article
from .guarded import GuardedArticleFn, apply_guarded


class _DetectFn(GuardedArticleFn):
    stage = "language"

    def setup(self) -> None:
        language.warm_up()  # load the fastText model once per worker

    def transform(self, article: Article) -> Article:
        text = article.item["text"]
        guess = language.detect_language(f"{article.item.get('title', '')}\n{text}")
        article.language, article.language_confidence = guess.code, guess.confidence
        article.paragraph_languages = sorted({p.code for p in language.detect_paragraphs(text[:20000])})
        return article


class DetectLanguage(beam.PTransform):
    """Article -> Article with ISO 639-1 language (+ per-paragraph languages); also emits dead letters."""

    def expand(self, articles):
        return apply_guarded(articles, "Detect", _DetectFn())
