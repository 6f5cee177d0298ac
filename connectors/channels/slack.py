"""Slack-compatible incoming webhook: `text` (the notification and fallback line) plus `blocks`,
sections in mrkdwn. Mattermost and Rocket.Chat take the same payload. Same SSRF guard and HTTP
client as the webhook channel (safe_http.py)."""
from __future__ import annotations

import json

from newswatch.pipelines.model import Alert, SlackChannel
from newswatch.pipelines.settings import AlertSettings

from . import render, safe_http
from .base import Delivery
from .ssrf import safe_origin
from .webhook import IDEMPOTENCY_HEADER

MAX_ALERT_SECTIONS = 10    # Slack allows 50 blocks per message; a digest's rest is counted
SECTION_TEXT_MAX = 2900    # Slack's limit for a section's text is 3000 characters


def escape(text: str) -> str:
    """Slack's three control characters. Unescaped, news text such as '<!channel>' would notify
    a whole channel, and '<http://x|y>' would forge a link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _section(mrkdwn: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": render.truncate(mrkdwn, SECTION_TEXT_MAX)}}


def _alert_mrkdwn(alert: Alert) -> str:
    lines = [f"*{escape(render.headline(alert))}*"]
    for label, value in render.facts(alert):
        if label == "Link":
            lines.append(f"<{escape(value)}|article>")
        else:
            lines.append(f"*{label}:* {escape(value)}")
    return "\n".join(lines)


def payload(message: Delivery) -> dict:
    blocks = [_section(f"*{escape(message.title)}*")] if message.digest else []
    blocks += [_section(_alert_mrkdwn(a)) for a in message.alerts[:MAX_ALERT_SECTIONS]]
    hidden = len(message.alerts) - MAX_ALERT_SECTIONS
    if hidden > 0:
        blocks.append({"type": "context", "elements": [
            {"type": "mrkdwn", "text": f"... and {hidden} more (`newswatch alerts list`)"}]})
    return {"text": escape(message.title), "blocks": blocks}  # Slack reads `text` as mrkdwn too


class SlackSender:
    kind = "slack"

    def __init__(self, channel: SlackChannel, settings: AlertSettings) -> None:
        self._url = channel.url
        self._settings = settings
        self.target = safe_origin(channel.url)

    def send(self, message: Delivery) -> None:
        body = json.dumps(payload(message), ensure_ascii=False).encode("utf-8")
        response = safe_http.post(self._url, body, {IDEMPOTENCY_HEADER: message.idempotency_key},
                                  what="Slack webhook", allowed_networks=self._settings.allowed_networks,
                                  timeout_s=self._settings.http_timeout_s)
        safe_http.raise_for_status(response, "Slack webhook")

    def close(self) -> None:
        """Nothing held."""
