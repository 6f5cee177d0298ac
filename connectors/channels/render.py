"""How an alert reads, in one place for every channel: a title (e-mail subject, Slack fallback
text) and a plain-text body, built from labelled facts that Slack re-formats as mrkdwn.

Every value comes from news text, which is untrusted: `clean` flattens line breaks and control
characters (an e-mail subject must stay one header line) and bounds the length."""
from __future__ import annotations

import re

from newswatch.pipelines.model import Alert

TITLE_MAX = 150
FACT_MAX = 300
DIGEST_LIST_MAX = 50  # alerts listed in full in a digest's text; the rest are counted

_CONTROL_OR_SPACE = re.compile(r"[\s\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_TYPE_NAMES = {"troop_buildup": "troop build-up"}


def clean(value: object, limit: int = FACT_MAX) -> str:
    text = _CONTROL_OR_SPACE.sub(" ", str(value)).strip()
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def truncate(text: str, limit: int) -> str:
    """Bound a multi-line text (its line breaks kept)."""
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def event_label(event: dict) -> str:
    """'offensive / airstrike'; the subtype is left out when it only repeats the type."""
    kind = event.get("type")
    if not kind:
        return "event"
    name = _TYPE_NAMES.get(kind, kind.replace("_", " "))
    subtype = event.get("subtype")
    return f"{name} / {subtype.replace('_', ' ')}" if subtype and subtype != kind else name


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(v for v in values if v))


def actor_names(event: dict) -> list[str]:
    return _unique([clean(a.get("canonical") or a.get("text") or "", 80) for a in event.get("actors") or []])


def place_names(event: dict) -> list[str]:
    names = []
    for place in event.get("locations") or []:
        name = clean(place.get("canonical") or place.get("text") or "", 80)
        names.append(f"{name} ({place['country']})" if name and place.get("country") else name)
    return _unique(names)


def trigger_text(event: dict) -> str:
    trigger = event.get("trigger")
    return clean(trigger.get("text", "") if isinstance(trigger, dict) else trigger or "", 80)


def article_link(alert: Alert) -> str:
    return clean(alert.article_url or alert.event.get("url") or "", 2048)


def headline(alert: Alert) -> str:
    """One line: 'offensive / airstrike in Deir ez-Zor (SY)', or for a surge rule its description."""
    event = alert.event
    if alert.kind == "surge":
        return clean(f"surge: {event.get('description') or event.get('rule') or event_label(event)}", TITLE_MAX)
    places = place_names(event)
    return clean(event_label(event) + (f" in {places[0]}" if places else ""), TITLE_MAX)


def facts(alert: Alert) -> list[tuple[str, str]]:
    """The labelled lines of one alert, empty ones left out."""
    event = alert.event
    confidence = event.get("confidence")
    rows = [
        ("Event", event_label(event) if event.get("type") else ""),
        ("Rule", clean(event.get("rule", "")) if alert.kind == "surge" else ""),
        ("Description", clean(event.get("description", ""))),
        ("Trigger", trigger_text(event)),
        ("Actors", ", ".join(actor_names(event))),
        ("Places", ", ".join(place_names(event))),
        ("Confidence", f"{confidence:.2f}" if isinstance(confidence, int | float) else ""),
        ("Article", clean(event.get("title", ""))),
        ("Sentence", clean(event.get("sentence_text", ""))),
        ("Link", article_link(alert)),
    ]
    return [(label, value) for label, value in rows if value]


def title(alerts: tuple[Alert, ...], digest: bool) -> str:
    first = alerts[0]
    name = clean(first.subscription_name, 60)
    if digest:
        return clean(f"[newswatch] {name}: {len(alerts)} alerts, latest {headline(alerts[-1])}", TITLE_MAX)
    return clean(f"[newswatch] {name}: {headline(first)}", TITLE_MAX)


def _alert_block(alert: Alert) -> list[str]:
    return [f"{label}: {value}" for label, value in facts(alert)]


def text(alerts: tuple[Alert, ...], digest: bool) -> str:
    first = alerts[0]
    footer = [f"Subscription: {clean(first.subscription_name, 200)} ({first.subscription_id})"]
    if not digest:
        return "\n".join([headline(first), "", *_alert_block(first), "", *footer, f"Alert id: {first.id}"]) + "\n"
    lines = [f"{len(alerts)} alerts within the subscription's realert window:", ""]
    for number, alert in enumerate(alerts[:DIGEST_LIST_MAX], start=1):
        lines += [f"{number}. {headline(alert)}", *("   " + line for line in _alert_block(alert)), ""]
    if len(alerts) > DIGEST_LIST_MAX:
        lines += [f"... and {len(alerts) - DIGEST_LIST_MAX} more (newswatch alerts list)", ""]
    return "\n".join(lines + footer) + "\n"
