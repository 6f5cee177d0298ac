import apache_beam as beam

from newswatch.pipelines.article_steps import tag_events
from newswatch.pipelines.nlp.tagging import Tagger

from .guarded import GuardedArticleFn, apply_guarded


class _TagFn(GuardedArticleFn):
    stage = "tagging"
    step = staticmethod(tag_events)

    def setup(self) -> None:
        self.tagger = Tagger()  # lexicons, patterns and gazetteer, once per worker

    def step_args(self) -> tuple:
        return (self.tagger,)


class TagEvents(beam.PTransform):
    """Article -> Article with offensive / ceasefire / troop build-up events; also emits dead letters."""

    def expand(self, articles):
        return apply_guarded(articles, "Tag", _TagFn())
