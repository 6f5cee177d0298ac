import apache_beam as beam

from newswatch.pipelines.article_steps import gather_places
from newswatch.pipelines.nlp.geo import gazetteer

from .guarded import GuardedArticleFn, apply_guarded


class _GeocodeFn(GuardedArticleFn):
    stage = "geo"
    step = staticmethod(gather_places)

    def setup(self) -> None:
        gazetteer()  # build the gazetteer once per worker


class Geocode(beam.PTransform):
    """Article -> Article with its events' places gathered as points; also emits dead letters."""

    def expand(self, articles):
        return apply_guarded(articles, "Geocode", _GeocodeFn())
