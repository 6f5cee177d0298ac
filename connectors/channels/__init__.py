"""Alert delivery channels (webhook, Slack-compatible webhook, e-mail, Kafka topic), each behind
the `Channel` interface of base.py."""
from .base import Channel, Channels, Delivery, DeliveryError, channel_for

__all__ = ["Channel", "Channels", "Delivery", "DeliveryError", "channel_for"]
