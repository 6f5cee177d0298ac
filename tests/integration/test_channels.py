"""One test per alert channel against real receivers on loopback: an HTTP server (webhook,
Slack-compatible webhook, plain and TLS), a real SMTP server (aiosmtpd, plain and STARTTLS with
AUTH), and the test stack's Kafka broker. Plus the failures the delivery worker acts on: 500
(retryable), 400 (not), a receiver that is down or silent (retryable), an SSRF refusal, and
secrets that never reach logs, errors or payloads."""
from __future__ import annotations

import datetime
import email
import email.policy
import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import socket
import ssl
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.admin import NewTopic
from pydantic import SecretStr

from newswatch.connectors.channels import Delivery, DeliveryError, channel_for
from newswatch.connectors.channels.ssrf import RefusedURL
from newswatch.connectors.kafka import client_config
from newswatch.pipelines.model import Alert, EmailChannel, KafkaChannel, SlackChannel, WebhookChannel, alert_id
from newswatch.pipelines.settings import AlertSettings, KafkaSettings, Settings

LOOPBACK_ALLOWED = ["127.0.0.0/8"]


def make_alert(n: int = 1) -> Alert:
    event_id = f"item-{n}:0:offensive:deir-ez-zor"
    return Alert(
        id=alert_id("sub-1", event_id), subscription_id="sub-1", owner="analyst@example.org",
        subscription_name="Deir ez-Zor offensives", event_id=event_id,
        event={"type": "offensive", "subtype": "airstrike", "trigger": {"text": "شنت غارات", "start": 10, "end": 18},
               "actors": [{"canonical": "Syrian Army"}], "confidence": 0.87,
               "locations": [{"canonical": "Deir ez-Zor", "country": "SY", "lat": 35.33, "lon": 40.14}],
               "title": "غارات قرب دير الزور", "sentence_text": "Warplanes struck near Deir ez-Zor."},
        article_url=f"https://news.example.invalid/{n}", matched_at="2026-11-25T08:00:01Z")


def settings_with(**alerts) -> Settings:
    return Settings(alerts=AlertSettings(**{"allowed_networks": LOOPBACK_ALLOWED, "http_timeout_s": 5, **alerts}))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- an HTTP receiver -----------------------------------------------------------------------------

@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)  # when the request arrived, before any delay_s


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - http.server's name
        server = self.server
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        server.received.append(Received(self.path, dict(self.headers.items()), body))
        time.sleep(server.delay_s)
        status, location = server.answers.pop(0) if server.answers else (200, None)
        try:
            self.send_response(status)
            if location:
                self.send_header("Location", location)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
        except (BrokenPipeError, ConnectionResetError):  # the client gave up waiting (the timeout test)
            pass

    def log_message(self, *args):
        pass


@dataclass
class Receiver:
    server: ThreadingHTTPServer
    scheme: str = "http"
    received: list[Received] = field(default_factory=list)

    def url(self, path: str = "/hook", host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.server.server_address[1]}{path}"

    def answer(self, *statuses: int | tuple[int, str]) -> None:
        """The next answers, in order (a tuple adds a Location); after them, 200."""
        self.server.answers.extend(s if isinstance(s, tuple) else (s, None) for s in statuses)


def start_receiver(tls: ssl.SSLContext | None = None):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    server.received, server.answers, server.delay_s = [], [], 0.0
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    receiver = Receiver(server, "https" if tls else "http", server.received)
    return receiver, lambda: (server.shutdown(), server.server_close())


@pytest.fixture
def receiver():
    receiver, stop = start_receiver()
    yield receiver
    stop()


# --- TLS material: one self-signed certificate for localhost and 127.0.0.1 -------------------------

@dataclass(frozen=True)
class Cert:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context


@pytest.fixture(scope="module")
def cert(tmp_path_factory) -> Cert:
    folder = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)  # its own trust anchor
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                    x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256()))
    result = Cert(folder / "cert.pem", folder / "key.pem")
    result.cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    result.key.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption()))
    return result


@pytest.fixture
def trust(cert, monkeypatch) -> Cert:
    """The channels trust the system CAs, or the bundle SSL_CERT_FILE names: here, our certificate."""
    monkeypatch.setenv("SSL_CERT_FILE", str(cert.cert))
    return cert


# --- webhook --------------------------------------------------------------------------------------

def verify_signature(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """What a receiver does (README): HMAC-SHA256 of "<timestamp>.<raw body>", compared in constant time."""
    timestamp = headers["X-Newswatch-Timestamp"]
    expected = "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers["X-Newswatch-Signature"])


def test_webhook_posts_the_alert_signed_with_its_idempotency_key(receiver):
    secret = secrets.token_urlsafe(24)
    alert = make_alert()
    channel = channel_for(WebhookChannel(url=receiver.url("/hooks/team-a?src=nw"), secret=SecretStr(secret)),
                          settings_with())
    channel.send(Delivery.single(alert))
    (got,) = receiver.received
    assert got.path == "/hooks/team-a?src=nw"
    assert got.headers["Idempotency-Key"] == alert.id
    assert got.headers["Content-Type"].startswith("application/json")
    assert abs(int(got.headers["X-Newswatch-Timestamp"]) - time.time()) < 60
    assert verify_signature(secret, got.headers, got.body)
    assert not verify_signature("another secret", got.headers, got.body)
    assert json.loads(got.body) == alert.model_dump(mode="json")
    assert secret.encode() not in got.body


def test_webhook_delivers_a_digest_under_its_own_key(receiver):
    alerts = [make_alert(n) for n in (1, 2, 3)]
    digest = Delivery.of_digest(alerts)
    channel_for(WebhookChannel(url=receiver.url()), settings_with()).send(digest)
    (got,) = receiver.received
    assert got.headers["Idempotency-Key"] == digest.idempotency_key
    assert "X-Newswatch-Signature" not in got.headers  # no secret, no signature
    body = json.loads(got.body)
    assert body["kind"] == "digest" and [a["id"] for a in body["alerts"]] == [a.id for a in alerts]


def test_webhook_over_https_connects_to_the_checked_address_with_the_host_name_for_tls(trust):
    receiver, stop = start_receiver(trust.server_context())
    try:
        channel = channel_for(WebhookChannel(url=receiver.url(host="localhost")), settings_with())
        channel.send(Delivery.single(make_alert()))
        (got,) = receiver.received
        assert got.headers["Host"] == f"localhost:{receiver.server.server_address[1]}"
        receiver.answer((307, "http://127.0.0.1:9/plain"))
        with pytest.raises(RefusedURL, match="from https to plain http"):
            channel.send(Delivery.single(make_alert()))
    finally:
        stop()


def test_webhook_refuses_a_certificate_it_does_not_trust(cert):
    receiver, stop = start_receiver(cert.server_context())  # no SSL_CERT_FILE: the system CAs only
    try:
        with pytest.raises(DeliveryError, match="certificate is not trusted") as failed:
            channel_for(WebhookChannel(url=receiver.url()), settings_with()).send(Delivery.single(make_alert()))
        assert failed.value.retryable is False
    finally:
        stop()


# --- slack ----------------------------------------------------------------------------------------

def test_slack_webhook_gets_text_and_mrkdwn_blocks(receiver):
    alert = make_alert()
    channel_for(SlackChannel(url=receiver.url("/services/T0/B0/token")), settings_with()).send(Delivery.single(alert))
    (got,) = receiver.received
    payload = json.loads(got.body)
    assert payload["text"] == "[newswatch] Deir ez-Zor offensives: offensive / airstrike in Deir ez-Zor (SY)"
    (block,) = payload["blocks"]
    assert block["type"] == "section" and block["text"]["type"] == "mrkdwn"
    assert "*Trigger:* شنت غارات" in block["text"]["text"]
    assert "<https://news.example.invalid/1|article>" in block["text"]["text"]
    assert got.headers["Idempotency-Key"] == alert.id


# --- failures the worker acts on ------------------------------------------------------------------

@pytest.mark.parametrize(("status", "retryable"), [(500, True), (503, True), (429, True), (400, False), (404, False)])
def test_receiver_errors_are_classified(receiver, status, retryable):
    receiver.answer(status)
    with pytest.raises(DeliveryError) as failed:
        channel_for(WebhookChannel(url=receiver.url()), settings_with()).send(Delivery.single(make_alert()))
    assert failed.value.retryable is retryable
    assert f"answered {status}" in str(failed.value) or f"with {status}" in str(failed.value)


def test_a_receiver_that_is_down_then_back_up(receiver):
    port = free_port()
    url = f"http://127.0.0.1:{port}/hook"
    with pytest.raises(DeliveryError) as failed:
        channel_for(WebhookChannel(url=url), settings_with()).send(Delivery.single(make_alert()))
    assert failed.value.retryable is True and "cannot connect" in str(failed.value)
    receiver.answer(503)  # then it comes back, overloaded first: still retryable, then delivered
    channel = channel_for(WebhookChannel(url=receiver.url()), settings_with())
    with pytest.raises(DeliveryError) as busy:
        channel.send(Delivery.single(make_alert()))
    assert busy.value.retryable is True
    channel.send(Delivery.single(make_alert()))
    assert len(receiver.received) == 2


def test_a_receiver_that_does_not_answer_in_time_is_retryable(receiver):
    receiver.server.delay_s = 1.5
    with pytest.raises(DeliveryError, match=r"did not answer within 0.5 s \(alerts.http_timeout_s\)") as failed:
        channel_for(WebhookChannel(url=receiver.url()), settings_with(http_timeout_s=0.5)).send(
            Delivery.single(make_alert()))
    assert failed.value.retryable is True


def test_loopback_receivers_are_refused_without_allowed_networks(receiver):
    for model in (WebhookChannel(url=receiver.url()), SlackChannel(url=receiver.url())):
        with pytest.raises(RefusedURL, match="loopback.*NEWSWATCH_ALERTS__ALLOWED_NETWORKS") as refused:
            channel_for(model, settings_with(allowed_networks=[])).send(Delivery.single(make_alert()))
        assert refused.value.retryable is False
    assert receiver.received == []


# --- e-mail ---------------------------------------------------------------------------------------

class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[object, object]] = []  # (session facts, envelope)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        self.messages.append(({"tls": session.ssl is not None, "authenticated": bool(session.authenticated)}, envelope))
        return "250 Message accepted"


@dataclass
class SmtpServer:
    port: int
    mailbox: _Mailbox


def start_smtp(**options) -> tuple[SmtpServer, Controller]:
    mailbox = _Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, **options)
    controller.start()
    return SmtpServer(port, mailbox), controller


@pytest.fixture
def smtp_plain():
    server, controller = start_smtp()
    yield server
    controller.stop()


SMTP_USER, SMTP_PASSWORD = "newswatch", secrets.token_urlsafe(18)


def _check_login(server, session, envelope, mechanism, auth_data) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        SMTP_USER.encode(), SMTP_PASSWORD.encode())
    return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 235 or 535 itself


@pytest.fixture
def smtp_starttls(trust):
    server, controller = start_smtp(tls_context=trust.server_context(), require_starttls=True,
                                    authenticator=_check_login, auth_required=True, auth_require_tls=True)
    yield server
    controller.stop()


def _parsed(envelope) -> email.message.EmailMessage:
    return email.message_from_bytes(envelope.original_content, policy=email.policy.default)


def test_email_over_plain_smtp(smtp_plain):
    delivery = Delivery.single(make_alert())
    s = settings_with(smtp_port=smtp_plain.port, smtp_from="alerts@newswatch.example")
    channel_for(EmailChannel(to="analyst@example.org"), s).send(delivery)
    ((facts, envelope),) = smtp_plain.mailbox.messages
    assert (envelope.mail_from, envelope.rcpt_tos) == ("alerts@newswatch.example", ["analyst@example.org"])
    mail = _parsed(envelope)
    assert mail["Subject"] == delivery.title
    assert mail["Message-ID"] == f"<{delivery.idempotency_key}.alert@newswatch.example>"
    assert mail.get_content().replace("\r\n", "\n") == delivery.text
    assert "Trigger: شنت غارات" in mail.get_content()
    assert facts == {"tls": False, "authenticated": False}


def test_email_over_starttls_with_a_login(smtp_starttls):
    s = settings_with(smtp_port=smtp_starttls.port, smtp_starttls=True, smtp_username=SMTP_USER,
                      smtp_password=SMTP_PASSWORD)
    delivery = Delivery.of_digest([make_alert(1), make_alert(2)])
    channel_for(EmailChannel(to="analyst@example.org"), s).send(delivery)
    ((facts, envelope),) = smtp_starttls.mailbox.messages
    assert facts == {"tls": True, "authenticated": True}
    assert _parsed(envelope)["Subject"] == delivery.title


def test_email_failures_say_what_to_fix(smtp_starttls):
    wrong = settings_with(smtp_port=smtp_starttls.port, smtp_starttls=True, smtp_username=SMTP_USER,
                          smtp_password="not-the-password-9f3")
    with pytest.raises(DeliveryError, match="refused the login of user 'newswatch'") as refused:
        channel_for(EmailChannel(to="a@example.org"), wrong).send(Delivery.single(make_alert()))
    assert refused.value.retryable is False and "not-the-password-9f3" not in str(refused.value)
    no_tls = settings_with(smtp_port=smtp_starttls.port)  # the server requires STARTTLS first
    with pytest.raises(DeliveryError) as rejected:
        channel_for(EmailChannel(to="a@example.org"), no_tls).send(Delivery.single(make_alert()))
    assert rejected.value.retryable is False and "530" in str(rejected.value)
    down = settings_with(smtp_port=free_port())
    with pytest.raises(DeliveryError, match="cannot talk to SMTP server") as unreachable:
        channel_for(EmailChannel(to="a@example.org"), down).send(Delivery.single(make_alert()))
    assert unreachable.value.retryable is True
    assert smtp_starttls.mailbox.messages == []


# --- kafka ----------------------------------------------------------------------------------------

@pytest.fixture
def alert_topic(running_stack):
    kafka_settings = KafkaSettings(bootstrap=f"127.0.0.1:{running_stack.kafka_port}")
    topic = f"alerts-channel-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(**client_config(kafka_settings))
    admin.create_topics([NewTopic(topic, 1, 1)])
    yield kafka_settings, topic
    admin.delete_topics([topic])
    admin.close()


def _read_all(kafka_settings: KafkaSettings, topic: str, expected: int, timeout_s: float = 30) -> list:
    consumer = KafkaConsumer(**client_config(kafka_settings), enable_auto_commit=False)
    try:
        consumer.assign([TopicPartition(topic, 0)])
        consumer.seek_to_beginning()
        records, deadline = [], time.monotonic() + timeout_s
        while len(records) < expected and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
        return records
    finally:
        consumer.close()


def test_kafka_topic_gets_the_alert_keyed_by_its_idempotency_key(alert_topic):
    kafka_settings, topic = alert_topic
    alert = make_alert()
    channel = channel_for(KafkaChannel(topic=topic), Settings(kafka=kafka_settings, alerts=AlertSettings()))
    try:
        channel.send(Delivery.single(alert))
    finally:
        channel.close()
    (record,) = _read_all(kafka_settings, topic, 1)
    assert record.key == alert.id.encode()
    assert json.loads(record.value) == alert.model_dump(mode="json")
    assert ("idempotency-key", alert.id.encode()) in record.headers


def test_kafka_broker_that_is_down_is_retryable():
    s = Settings(kafka=KafkaSettings(bootstrap=f"127.0.0.1:{free_port()}"), alerts=AlertSettings(kafka_timeout_s=2))
    channel = channel_for(KafkaChannel(topic="alerts-nowhere"), s)
    with pytest.raises(DeliveryError, match="check kafka.bootstrap") as failed:
        channel.send(Delivery.single(make_alert()))
    assert failed.value.retryable is True
    channel.close()


# --- secrets --------------------------------------------------------------------------------------

def test_secrets_reach_no_log_error_or_payload(receiver, smtp_starttls, caplog):
    """The HMAC key and the SMTP password, random per run: a match anywhere is a leak."""
    caplog.set_level(logging.DEBUG)
    hmac_key = secrets.token_urlsafe(24)
    errors: list[str] = []
    webhook = WebhookChannel(url=receiver.url(), secret=SecretStr(hmac_key))
    receiver.answer(500, 400)
    for _ in range(3):  # retryable failure, refusal, delivery
        try:
            channel_for(webhook, settings_with()).send(Delivery.single(make_alert()))
        except DeliveryError as err:
            errors.append(f"{err!s} {err!r}")
    smtp = settings_with(smtp_port=smtp_starttls.port, smtp_starttls=True, smtp_username=SMTP_USER,
                         smtp_password=SMTP_PASSWORD)
    channel_for(EmailChannel(to="a@example.org"), smtp).send(Delivery.single(make_alert()))
    wrong_user = settings_with(smtp_port=smtp_starttls.port, smtp_starttls=True, smtp_username="intruder",
                               smtp_password=SMTP_PASSWORD)
    try:
        channel_for(EmailChannel(to="a@example.org"), wrong_user).send(Delivery.single(make_alert()))
    except DeliveryError as err:
        errors.append(f"{err!s} {err!r} {err.__cause__!r} {err.__context__!r}")
    assert len(errors) == 3 and len(receiver.received) == 3 and len(smtp_starttls.mailbox.messages) == 1
    delivered = b"".join(r.body + json.dumps(r.headers).encode() for r in receiver.received)
    delivered += smtp_starttls.mailbox.messages[0][1].original_content
    assert "answered 500" in caplog.text and "AUTH" in caplog.text  # the channels' and the SMTP server's logs
    for secret in (hmac_key, SMTP_PASSWORD):
        assert secret not in caplog.text
        assert all(secret not in text for text in errors)
        assert secret.encode() not in delivered
        assert secret not in repr(smtp) and secret not in repr(webhook)
