"""The subscription model: its JSON Schema file is generated from it, and its checks say what to fix."""
import json

import pytest
from pydantic import ValidationError

from newswatch.pipelines.model import Subscription, alert_id
from newswatch.pipelines.settings import REPO_DIR
from newswatch.pipelines.durations import parse_duration


def test_the_schema_file_is_the_models_schema():
    on_disk = json.loads((REPO_DIR / "schemas" / "subscription.schema.json").read_text(encoding="utf-8"))
    assert on_disk == Subscription.model_json_schema(), "regenerate: Subscription.model_json_schema()"


def test_codes_are_normalised_and_checked():
    sub = Subscription(owner="a", name="n", countries=["sy", "IQ"], languages=["AR"])
    assert sub.countries == ["SY", "IQ"] and sub.languages == ["ar"]
    with pytest.raises(ValidationError, match="two-letter ISO 3166-1"):
        Subscription(owner="a", name="n", countries=["Syria"])


def test_a_radius_needs_a_point_and_a_point_a_radius():
    with pytest.raises(ValidationError, match="both near"):
        Subscription(owner="a", name="n", radius_km=10)
    with pytest.raises(ValidationError, match="both near"):
        Subscription(owner="a", name="n", near={"lat": 1, "lon": 2})


def test_webhook_secrets_never_leave_in_a_dump():
    sub = Subscription(owner="a", name="n", channels=[{"type": "webhook", "url": "https://x.example/h",
                                                       "secret": "s3cret"}])
    assert "s3cret" not in sub.model_dump_json() and "s3cret" not in repr(sub)
    assert sub.channels[0].secret.get_secret_value() == "s3cret"


def test_alert_ids_are_deterministic_and_distinct():
    assert alert_id("s1", "e1") == alert_id("s1", "e1") != alert_id("s1", "e2") != alert_id("s2", "e1")


@pytest.mark.parametrize("text, seconds", [("90s", 90), ("10m", 600), ("2h", 7200), ("1d", 86400), ("45", 45)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


def test_a_bad_duration_says_how_to_write_one():
    with pytest.raises(ValueError, match="e.g. 90s, 10m"):
        parse_duration("ten minutes")
