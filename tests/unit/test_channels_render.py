"""What every channel sends, without servers: the rendered title and text, the Delivery and its
idempotency key, the webhook signature, the Slack payload, the e-mail message, and how HTTP
answers are classified."""
from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from pydantic import SecretStr

from newswatch.connectors.channels import Delivery, DeliveryError, channel_for
from newswatch.pipelines.model import digest_id
from newswatch.connectors.channels import render, slack
from newswatch.connectors.channels.email import EmailSender, build_message
from newswatch.connectors.channels.safe_http import HttpResponse, raise_for_status
from newswatch.connectors.channels.webhook import signature
from newswatch.pipelines.model import Alert, EmailChannel, KafkaChannel, SlackChannel, WebhookChannel, alert_id
from newswatch.pipelines.settings import AlertSettings, Settings


def make_alert(n: int = 1, subscription_id: str = "sub-1", **event) -> Alert:
    event_id = f"item-{n}:0:offensive:deir-ez-zor"
    return Alert(
        id=alert_id(subscription_id, event_id), subscription_id=subscription_id, owner="analyst@example.org",
        subscription_name="Deir ez-Zor offensives", event_id=event_id,
        event={"type": "offensive", "subtype": "airstrike", "trigger": {"text": "شنت غارات", "start": 10, "end": 18},
               "actors": [{"canonical": "Syrian Army", "text": "الجيش السوري"},
                          {"canonical": "Syrian Army", "text": "the army"}],
               "locations": [{"canonical": "Deir ez-Zor", "country": "SY", "lat": 35.33, "lon": 40.14}],
               "confidence": 0.873, "title": f"Airstrikes near Deir ez-Zor ({n})",
               "sentence_text": "Warplanes carried out\nairstrikes near Deir ez-Zor.", **event},
        article_url=f"https://news.example.invalid/{n}", matched_at="2026-11-25T08:00:01Z",
        source_timestamp_ms=1_700_000_000_000)


def test_the_text_of_one_alert_names_type_trigger_actors_places_and_link():
    delivery = Delivery.single(make_alert())
    assert delivery.title == "[newswatch] Deir ez-Zor offensives: offensive / airstrike in Deir ez-Zor (SY)"
    lines = delivery.text.splitlines()
    for expected in ("Event: offensive / airstrike", "Trigger: شنت غارات", "Actors: Syrian Army",
                     "Places: Deir ez-Zor (SY)", "Confidence: 0.87", "Link: https://news.example.invalid/1",
                     "Sentence: Warplanes carried out airstrikes near Deir ez-Zor."):
        assert expected in lines
    assert delivery.idempotency_key == make_alert().id
    assert delivery.payload() == make_alert().model_dump(mode="json")


def test_untrusted_text_cannot_break_a_header_line_or_grow_without_bound():
    alert = make_alert(subtype="air\r\nBcc: victim@example.org", title="x" * 5000)
    delivery = Delivery.single(alert)
    assert "\n" not in delivery.title and "\r" not in delivery.title
    assert len(delivery.title) <= render.TITLE_MAX
    assert max(len(line) for line in delivery.text.splitlines()) <= render.FACT_MAX + len("Article: ")
    mail = build_message(delivery, "a@example.org", "newswatch@example.org")
    assert mail["Bcc"] is None


def test_a_troop_buildup_and_a_surge_alert_read_naturally():
    buildup = make_alert(type="troop_buildup", subtype="troop_buildup")
    assert render.headline(buildup) == "troop build-up in Deir ez-Zor (SY)"
    surge = Alert(id="s1", kind="surge", subscription_id="sub-1", owner="o", subscription_name="surges",
                  event_id="rule-1:2026-11-25T08", matched_at="2026-11-25T08:00:00Z",
                  event={"rule": "offensives-near-idlib", "description": "12 offensive events within 30 km of Idlib"})
    assert render.headline(surge) == "surge: 12 offensive events within 30 km of Idlib"
    assert ("Rule", "offensives-near-idlib") in render.facts(surge)


def test_a_digest_lists_its_alerts_and_has_an_order_free_key():
    alerts = [make_alert(n) for n in range(1, 4)]
    digest = Delivery.of_digest(alerts)
    assert digest.idempotency_key == Delivery.of_digest(list(reversed(alerts))).idempotency_key
    assert digest.idempotency_key == digest_id([a.id for a in alerts])
    assert digest.idempotency_key not in {a.id for a in alerts}
    assert digest.title.startswith("[newswatch] Deir ez-Zor offensives: 3 alerts")
    assert [line for line in digest.text.splitlines() if line[:2] in ("1.", "2.", "3.")] == [
        f"{n}. offensive / airstrike in Deir ez-Zor (SY)" for n in (1, 2, 3)]
    payload = digest.payload()
    assert (payload["kind"], payload["id"], payload["count"]) == ("digest", digest.idempotency_key, 3)
    assert [a["id"] for a in payload["alerts"]] == [a.id for a in alerts]
    with pytest.raises(ValueError, match="one subscription"):
        Delivery.of_digest([make_alert(1), make_alert(2, subscription_id="sub-2")])


def test_the_signature_is_an_hmac_of_timestamp_dot_body():
    body = Delivery.single(make_alert()).body()
    expected = hmac.new(b"s3cret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signature("s3cret", "1700000000", body) == f"sha256={expected}"


def test_slack_payload_has_text_and_mrkdwn_blocks_with_news_text_escaped():
    alert = make_alert(title="<!channel> & <http://evil.example|click>")
    payload = slack.payload(Delivery.single(alert))
    assert payload["text"].startswith("[newswatch] Deir ez-Zor offensives")
    (block,) = payload["blocks"]
    assert block["type"] == "section" and block["text"]["type"] == "mrkdwn"
    text = block["text"]["text"]
    assert "*Trigger:* شنت غارات" in text and "<https://news.example.invalid/1|article>" in text
    assert "&lt;!channel&gt; &amp; &lt;http://evil.example|click&gt;" in text and "<!channel>" not in text
    digest = slack.payload(Delivery.of_digest([make_alert(n) for n in range(25)]))
    assert len(digest["blocks"]) == 1 + slack.MAX_ALERT_SECTIONS + 1  # title, 10 alerts, "and 15 more"
    assert "15 more" in json.dumps(digest["blocks"][-1])


def test_the_email_message_id_follows_the_idempotency_key():
    delivery = Delivery.single(make_alert())
    mail = build_message(delivery, "analyst@example.org", "alerts@newswatch.example")
    again = build_message(delivery, "analyst@example.org", "alerts@newswatch.example")
    assert mail["Message-ID"] == again["Message-ID"] == f"<{delivery.idempotency_key}.alert@newswatch.example>"
    assert mail["Subject"] == delivery.title
    assert mail.get_content() == delivery.text


@pytest.mark.parametrize(("settings", "fix"), [
    (AlertSettings(smtp_username="bot", smtp_password="pw-AAA"), "NEWSWATCH_ALERTS__SMTP_STARTTLS=true"),
    (AlertSettings(smtp_username="bot", smtp_starttls=True), "alerts.smtp_password"),
])
def test_smtp_login_settings_are_checked_before_connecting(settings, fix):
    with pytest.raises(DeliveryError) as failed:
        EmailSender(EmailChannel(to="a@example.org"), settings).send(Delivery.single(make_alert()))
    assert fix in str(failed.value) and failed.value.retryable is False
    assert "pw-AAA" not in str(failed.value)


def _response(status: int, body: bytes = b"", **headers) -> HttpResponse:
    return HttpResponse(status, "Reason", headers, body, "http://127.0.0.1:9")


def test_http_answers_are_classified():
    raise_for_status(_response(204), "webhook")  # delivered: no exception
    for status, retryable in ((500, True), (503, True), (429, True), (408, True), (400, False), (404, False),
                              (410, False), (302, False)):
        with pytest.raises(DeliveryError) as failed:
            raise_for_status(_response(status, b"nope"), "webhook")
        assert failed.value.retryable is retryable, status
    with pytest.raises(DeliveryError) as limited:
        raise_for_status(_response(429, **{"retry-after": "7"}), "webhook")
    assert limited.value.retry_after_s == 7.0


def test_channel_for_builds_each_kind_and_shows_no_secret_or_url_path():
    s = Settings()
    cases = [(WebhookChannel(url="https://hooks.example/p/TOKEN1", secret=SecretStr("k-BBB")), "webhook"),
             (SlackChannel(url="https://hooks.slack.example/services/TOKEN2"), "slack"),
             (EmailChannel(to="a@example.org"), "email"), (KafkaChannel(topic="alerts-team-a"), "kafka")]
    for model, kind in cases:
        channel = channel_for(model, s)
        assert channel.kind == kind
        assert "TOKEN" not in channel.target and "k-BBB" not in channel.target
        assert "k-BBB" not in repr(vars(channel))  # the secret stays a masked SecretStr
        channel.close()
