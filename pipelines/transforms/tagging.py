import apache_beam as beam

from pipelines.nlp.tagging import MAX_TEXT, Tagger

from .elements import Article
from .guarded import GuardedArticleFn, apply_guarded


class _TagFn(GuardedArticleFn):
    stage = "tagging"

    def setup(self) -> None:
        self.tagger = Tagger()  # lexicons, patterns and gazetteer, once per worker

    def transform(self, article: Article) -> Article:
        truncated = len(article.item["text"]) > MAX_TEXT
        article.tagged = self.tagger.tag_normalized(article.normalized, article.language,
                                                    article.language_confidence, truncated)
        return article


class TagEvents(beam.PTransform):
    """Article -> Article with offensive / ceasefire / troop build-up events; also emits dead letters."""

    def expand(self, articles):
        return apply_guarded(articles, "Tag", _TagFn())
