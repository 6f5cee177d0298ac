import apache_beam as beam

from newswatch.pipelines.article_steps import normalize_text
from newswatch.pipelines.nlp import normalize as nlp_normalize

from .guarded import GuardedArticleFn, apply_guarded


class _NormalizeTextFn(GuardedArticleFn):
    stage = "normalize"
    step = staticmethod(normalize_text)

    def setup(self) -> None:
        nlp_normalize.warm_up()  # word-frequency lexicon for the artefact splitter


class NormalizeText(beam.PTransform):
    """Article -> Article with display/match forms and offsets; also emits dead letters."""

    def expand(self, articles):
        return apply_guarded(articles, "Normalize", _NormalizeTextFn())
