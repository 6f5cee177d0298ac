import apache_beam as beam

from newswatch.pipelines.article_steps import detect_language
from newswatch.pipelines.nlp import language

from .guarded import GuardedArticleFn, apply_guarded


class _DetectLanguageFn(GuardedArticleFn):
    stage = "language"
    step = staticmethod(detect_language)

    def setup(self) -> None:
        language.warm_up()  # load the fastText model once per worker


class DetectLanguage(beam.PTransform):
    """Article -> Article with ISO 639-1 language (+ per-paragraph languages); also emits dead letters."""

    def expand(self, articles):
        return apply_guarded(articles, "Detect", _DetectLanguageFn())
