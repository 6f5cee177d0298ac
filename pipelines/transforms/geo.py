import apache_beam as beam

from pipelines.nlp.geo import gazetteer

from .elements import Article
from .guarded import GuardedArticleFn, apply_guarded


def article_places(article: Article) -> list[dict]:
    """Distinct geocoded places of an article's events, for map search (geo_point)."""
    seen: dict[str, dict] = {}
    for event in article.tagged.events if article.tagged else []:
        for loc in event.locations:
            if loc.canonical not in seen:
                seen[loc.canonical] = {"canonical": loc.canonical, "country": loc.country, "lat": loc.lat, "lon": loc.lon}
    return list(seen.values())


class _GeocodeFn(GuardedArticleFn):
    stage = "geo"

    def setup(self) -> None:
        gazetteer()  # build the gazetteer once per worker

    def transform(self, article: Article) -> Article:
        article.places = article_places(article)
        return article


class Geocode(beam.PTransform):
    """Article -> Article with its events' places gathered as points; also emits dead letters."""

    def expand(self, articles):
        return apply_guarded(articles, "Geocode", _GeocodeFn())
