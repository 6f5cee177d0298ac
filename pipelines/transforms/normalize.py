import apache_beam as beam

from pipelines.nlp import normalize as nlp_normalize
from pipelines.nlp.tagging import MAX_TEXT

from .elements import Article
from .guarded import GuardedArticleFn, apply_guarded


class _NormalizeFn(GuardedArticleFn):
    stage = "normalize"

    def setup(self) -> None:
        nlp_normalize.warm_up()  # word-frequency lexicon for the artefact splitter

    def transform(self, article: Article) -> Article:
        article.normalized = nlp_normalize.normalize(article.item["text"][:MAX_TEXT])
        return article


class NormalizeText(beam.PTransform):
    """Article -> Article with display/match forms and offsets; also emits dead letters."""

    def expand(self, articles):
        return apply_guarded(articles, "Normalize", _NormalizeFn())
