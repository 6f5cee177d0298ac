"""E-mail channel: one plain-text message per delivery, over SMTP (smtplib).

Settings: alerts.smtp_host/smtp_port/smtp_timeout_s, smtp_starttls (upgrade the connection with
STARTTLS; the server's certificate is checked against the system CAs, or the bundle SSL_CERT_FILE
names), smtp_username/smtp_password (AUTH, only over STARTTLS: a password never crosses the
network in clear), smtp_from. The Message-ID is derived from the idempotency key, so a message
sent again after a crash carries the same id and mail systems can tell it is the same."""
from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate

from newswatch.pipelines.model import EmailChannel
from newswatch.pipelines.settings import AlertSettings

from .base import Delivery, DeliveryError


# RFC 5322's line limit. At the default 78, Python folds a long ASCII subject right after
# "Subject:", and mail clients then show it with a leading space.
SMTP_POLICY = SMTP.clone(max_line_length=998)


def message_id(idempotency_key: str, sender: str) -> str:
    domain = sender.rpartition("@")[2] or "newswatch.invalid"
    return f"<{idempotency_key}.alert@{domain}>"


def build_message(message: Delivery, to: str, sender: str) -> EmailMessage:
    mail = EmailMessage(policy=SMTP_POLICY)
    mail["From"] = sender
    mail["To"] = to
    mail["Subject"] = message.title  # one line: render.clean flattened it
    mail["Date"] = formatdate(usegmt=True)
    mail["Message-ID"] = message_id(message.idempotency_key, sender)
    mail["X-Newswatch-Idempotency-Key"] = message.idempotency_key
    mail.set_content(message.text, charset="utf-8")
    return mail


class EmailSender:
    kind = "email"

    def __init__(self, channel: EmailChannel, settings: AlertSettings) -> None:
        self._to = channel.to
        self._settings = settings
        self.target = f"smtp://{settings.smtp_host}:{settings.smtp_port} to {channel.to}"

    def send(self, message: Delivery) -> None:
        self._check_settings()
        mail = build_message(message, self._to, self._settings.smtp_from)
        s = self._settings
        where = f"SMTP server {s.smtp_host}:{s.smtp_port}"
        try:
            with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout_s) as smtp:
                smtp.ehlo()
                if s.smtp_starttls:
                    smtp.starttls(context=ssl.create_default_context())
                    smtp.ehlo()
                if s.smtp_username is not None:
                    smtp.login(s.smtp_username, s.smtp_password.get_secret_value())
                smtp.send_message(mail)
        except Exception as err:  # every failure is classified; none may carry the password out
            raise _classify(err, where, s) from None

    def _check_settings(self) -> None:
        s = self._settings
        if (s.smtp_username is None) != (s.smtp_password is None):
            missing = "smtp_password" if s.smtp_password is None else "smtp_username"
            raise DeliveryError(f"SMTP login needs both alerts.smtp_username and alerts.smtp_password: set alerts."
                                f"{missing} (env NEWSWATCH_ALERTS__{missing.upper()})", retryable=False)
        if s.smtp_username is not None and not s.smtp_starttls:
            raise DeliveryError("alerts.smtp_username is set but alerts.smtp_starttls is false: the password would "
                                "cross the network in clear; set NEWSWATCH_ALERTS__SMTP_STARTTLS=true (the server "
                                "must offer STARTTLS)", retryable=False)

    def close(self) -> None:
        """Nothing held: each delivery opens and closes its own SMTP session."""


def _classify(err: Exception, where: str, s: AlertSettings) -> DeliveryError:
    """An SMTP failure as a DeliveryError: 4xx replies and network trouble are retryable, 5xx
    replies and configuration mistakes are not. Built from reply codes and our own words only."""
    if isinstance(err, smtplib.SMTPAuthenticationError):
        return DeliveryError(f"{where} refused the login of user {s.smtp_username!r} ({err.smtp_code}): check "
                             "alerts.smtp_username and alerts.smtp_password", retryable=False)
    if isinstance(err, smtplib.SMTPNotSupportedError) or (
            isinstance(err, smtplib.SMTPException) and "authentication method" in str(err)):
        return DeliveryError(f"{where}: {_text(err)}: check alerts.smtp_starttls and alerts.smtp_username against "
                             "what the server offers", retryable=False)
    if isinstance(err, ssl.SSLCertVerificationError):
        return DeliveryError(f"{where}: its TLS certificate is not trusted ({err.verify_message}): set SSL_CERT_FILE to "
                             "the CA bundle (PEM) that signed it, or alerts.smtp_host to a name in the certificate",
                             retryable=False)
    if isinstance(err, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in err.recipients.values()]
        return DeliveryError(f"{where} refused the recipient ({', '.join(map(str, codes))}): check the subscription's "
                             "e-mail address", retryable=all(400 <= c < 500 for c in codes))
    if isinstance(err, smtplib.SMTPResponseException):
        temporary = 400 <= err.smtp_code < 500
        return DeliveryError(f"{where} answered {err.smtp_code} {_text(err)}" +
                             ("; delivery is retried" if temporary else ": fix the sender (alerts.smtp_from), the "
                              "recipient or the server's policy; it is not retried"), retryable=temporary)
    if isinstance(err, smtplib.SMTPServerDisconnected | OSError):
        return DeliveryError(f"cannot talk to {where} ({_text(err) or type(err).__name__}): is it up? check "
                             "alerts.smtp_host and alerts.smtp_port; delivery is retried", retryable=True)
    return DeliveryError(f"{where}: {type(err).__name__}: {_text(err)}", retryable=True)


def _text(err: Exception) -> str:
    """The server's words (never ours: smtplib puts no credential in an exception)."""
    smtp_error = getattr(err, "smtp_error", None)
    if isinstance(smtp_error, bytes):
        return smtp_error.decode("utf-8", "replace")[:200]
    return (getattr(err, "strerror", None) or str(err))[:200]
