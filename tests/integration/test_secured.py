"""The pipeline against a Kafka broker that requires TLS and a SASL login.

The test starts a broker of its own (not the shared test stack) with one SASL_SSL listener on
39092: a CA and a broker certificate for 127.0.0.1/localhost made here with `cryptography`, a PEM
key store, PLAIN users in the listener's JAAS configuration and SCRAM-SHA-512 users written into
the KRaft metadata when the storage is formatted. The pipeline reads news from it, indexes into
the shared OpenSearch (plain http) and writes its dead letters back to it, once per mechanism.
The passwords are random per run, so finding one in a log or an error means it leaked.
"""
from __future__ import annotations

import datetime
import ipaddress
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from newswatch.connectors import kafka, stack
from newswatch.connectors.search import SearchBackend
from newswatch.pipelines.settings import REPO_DIR, KafkaSettings, Settings, StackSettings, load_settings

from .conftest import PipelineProcess, news_item, settings_env, wait_for

SECURED_STACK = StackSettings(home=REPO_DIR / "var" / "secured-test-stack", kafka_port=39092,
                              kafka_controller_port=39093, kafka_heap="384m")
BROKER_USER = "broker"  # the broker's own PLAIN login to itself (inter-broker listener)
TEXT = "Government warplanes carried out airstrikes on rebel positions near Idlib on Monday."


# --- TLS material ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Tls:
    ca: Path          # CA certificate (PEM): the clients' trust store
    key_store: Path   # broker private key + certificate chain (PEM), what Kafka's PEM key store reads


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(subject: str, key, issuer: str, issuer_key, ca: bool, sans: list | None = None) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=2))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
            key_encipherment=False, data_encipherment=False, key_agreement=False, encipher_only=False,
            decipher_only=False), critical=True)
    else:
        builder = (builder.add_extension(x509.SubjectAlternativeName(sans or []), critical=False)
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                         ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False))
    return builder.sign(issuer_key, hashes.SHA256())


def make_tls(folder: Path) -> Tls:
    """A throw-away CA and a broker certificate valid for localhost and 127.0.0.1."""
    folder.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = _certificate("newswatch test CA", ca_key, "newswatch test CA", ca_key, ca=True)
    broker_key = ec.generate_private_key(ec.SECP256R1())
    sans = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    broker_cert = _certificate("localhost", broker_key, "newswatch test CA", ca_key, ca=False, sans=sans)
    pem = serialization.Encoding.PEM
    tls = Tls(ca=folder / "ca.pem", key_store=folder / "broker.pem")
    tls.ca.write_bytes(ca_cert.public_bytes(pem))
    key = broker_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    tls.key_store.write_bytes(key + broker_cert.public_bytes(pem) + ca_cert.public_bytes(pem))
    return tls


# --- the broker -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class SecuredBroker:
    tls: Tls
    users: dict[str, tuple[str, str]]  # SASL mechanism -> (user, password)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{SECURED_STACK.kafka_port}"

    def kafka_settings(self, base: KafkaSettings, mechanism: str, password: str | None = None) -> KafkaSettings:
        user, right_password = self.users[mechanism]
        return KafkaSettings(**{**base.model_dump(), "bootstrap": self.bootstrap, "security_protocol": "SASL_SSL",
                                "sasl_mechanism": mechanism, "sasl_username": user,
                                "sasl_password": password or right_password, "ssl_cafile": self.tls.ca})

    def passwords(self) -> list[str]:
        return [password for _, password in self.users.values()]


def sasl_ssl_listener(tls: Tls, broker_password: str, users: dict[str, tuple[str, str]]) -> stack.KafkaListener:
    plain_user, plain_password = users["PLAIN"]
    scram_user, scram_password = users["SCRAM-SHA-512"]
    plain_jaas = (f'org.apache.kafka.common.security.plain.PlainLoginModule required username="{BROKER_USER}" '
                  f'password="{broker_password}" user_{BROKER_USER}="{broker_password}" '
                  f'user_{plain_user}="{plain_password}";')
    return stack.KafkaListener(
        protocol="SASL_SSL",
        properties={
            "sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-512",
            "sasl.mechanism.inter.broker.protocol": "PLAIN",
            "listener.name.sasl_ssl.plain.sasl.jaas.config": plain_jaas,
            "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config":
                "org.apache.kafka.common.security.scram.ScramLoginModule required;",
            "ssl.keystore.type": "PEM", "ssl.keystore.location": str(tls.key_store),
            "ssl.truststore.type": "PEM", "ssl.truststore.location": str(tls.ca),
            "ssl.client.auth": "none",
        },
        # SCRAM credentials live in the KRaft metadata: written when the storage is formatted
        format_args=("--add-scram", f"SCRAM-SHA-512=[name={scram_user},password={scram_password}]"),
        client_options={"security_protocol": "SASL_SSL", "ssl_cafile": str(tls.ca), "sasl_mechanism": "PLAIN",
                        "sasl_plain_username": BROKER_USER, "sasl_plain_password": broker_password},
    )


@pytest.fixture(scope="module")
def secured_broker():
    # A broker left by an interrupted run knows other passwords: replace it and its storage.
    stack.stop(SECURED_STACK, "kafka")
    shutil.rmtree(SECURED_STACK.home / "kafka" / "data", ignore_errors=True)
    tls = make_tls(SECURED_STACK.home / "tls")
    users = {"PLAIN": ("alice", secrets.token_hex(16)), "SCRAM-SHA-512": ("bob", secrets.token_hex(16))}
    try:
        stack.start_kafka(SECURED_STACK, sasl_ssl_listener(tls, secrets.token_hex(16), users))
    except stack.StackError as err:
        pytest.fail(f"could not start the SASL_SSL broker: {err}")
    yield SecuredBroker(tls, users)
    stack.stop(SECURED_STACK, "kafka")


class VerbosePipeline(PipelineProcess):
    """`newswatch run --verbose`: INFO logs from newswatch and kafka-python are what could leak."""

    def start(self) -> VerbosePipeline:
        out = self.log.open("ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "newswatch.pipelines.cli", "run", "--verbose"],
                                     env=settings_env(self.settings), stdout=out, stderr=subprocess.STDOUT,
                                     cwd=REPO_DIR, start_new_session=True)
        return self


def _dead_letters(s: KafkaSettings, n: int, timeout_s: float = 90) -> list[dict]:
    consumer = kafka.new_consumer(s, auto_offset_reset="earliest", consumer_timeout_ms=1000)
    consumer.subscribe([s.dlq_topic])
    found: list[dict] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(found) < n and time.monotonic() < deadline:
            found.extend(json.loads(m.value) for m in consumer)
    finally:
        consumer.close()
    return found


def _all_committed(s: KafkaSettings) -> bool:
    ends = kafka.end_offsets(s, s.topic)
    committed = kafka.committed_offsets(s, s.topic)
    return all(committed[p] == end for p, end in ends.items() if end > 0)


# --- tests ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-512"])
def test_pipeline_reads_from_and_dead_letters_to_a_sasl_ssl_broker(mechanism, secured_broker, settings, tmp_path):
    s: Settings = settings.model_copy(update={"kafka": secured_broker.kafka_settings(settings.kafka, mechanism)})
    kafka.ensure_topics(s.kafka)
    backend = SearchBackend(s.search)
    backend.ensure_templates()
    proc = VerbosePipeline(s, tmp_path / "pipeline.log").start()
    try:
        kafka.produce(s.kafka, [news_item("secured-1", TEXT), b"{not json"])
        doc = wait_for(lambda: backend.get(s.search.articles_index, "item-secured-1"), 120,
                       "the article read from the SASL_SSL broker", proc)
        assert doc["labels"] == ["offensive"] and doc["kafka"]["topic"] == s.kafka.topic
        letters = _dead_letters(s.kafka, 1)
        assert [letter["reason"] for letter in letters] == ["bad_json"]
        assert letters[0]["source"]["topic"] == s.kafka.topic
        wait_for(lambda: _all_committed(s.kafka), 60, "offsets committed on the SASL_SSL broker", proc)
    finally:
        proc.kill()
    log = proc.log.read_text(errors="replace")
    # the check means something only if the log covers the logins: kafka-python logs each at INFO
    assert f"{s.kafka.topic}@{s.kafka.bootstrap}" in log and f"Authenticated as {s.kafka.sasl_username}" in log
    for password in secured_broker.passwords():
        assert password not in log


def test_a_wrong_password_is_a_clear_error_without_the_password(secured_broker, settings, tmp_path):
    wrong = secrets.token_hex(16)
    s = settings.model_copy(update={"kafka": secured_broker.kafka_settings(settings.kafka, "SCRAM-SHA-512", wrong)})
    items = tmp_path / "items.jsonl"
    items.write_bytes(news_item("never-sent", TEXT) + b"\n")
    for command in (["produce", str(items)], ["run", "--verbose"]):
        done = subprocess.run([sys.executable, "-m", "newswatch.pipelines.cli", *command], env=settings_env(s), cwd=REPO_DIR,
                              capture_output=True, text=True, timeout=120)
        output = done.stdout + done.stderr
        assert done.returncode == 2, output
        assert "kafka.sasl_username" in output and "kafka.sasl_password" in output, output
        for secret in (wrong, *secured_broker.passwords()):
            assert secret not in output


def test_a_broker_certificate_from_another_ca_is_refused(secured_broker, settings, tmp_path):
    other_ca = make_tls(tmp_path / "other").ca
    good = secured_broker.kafka_settings(settings.kafka, "PLAIN")
    s = settings.model_copy(update={"kafka": KafkaSettings(**{**good.model_dump(), "ssl_cafile": other_ca})})
    done = subprocess.run([sys.executable, "-m", "newswatch.pipelines.cli", "run"], env=settings_env(s), cwd=REPO_DIR,
                          capture_output=True, text=True, timeout=120)
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert "kafka.ssl_cafile" in output, output
    assert secured_broker.users["PLAIN"][1] not in output


def test_settings_from_the_environment_reach_the_broker(secured_broker, settings, monkeypatch):
    """The secured settings given as NEWSWATCH_KAFKA__* variables, as a deployment would; the broker
    named by host name, which its certificate must match."""
    user, password = secured_broker.users["SCRAM-SHA-512"]
    env = {"BOOTSTRAP": f"localhost:{SECURED_STACK.kafka_port}", "SECURITY_PROTOCOL": "SASL_SSL",
           "SASL_MECHANISM": "SCRAM-SHA-512", "SASL_USERNAME": user, "SASL_PASSWORD": password,
           "SSL_CAFILE": str(secured_broker.tls.ca), "TOPIC": settings.kafka.topic, "DLQ_TOPIC": settings.kafka.dlq_topic}
    for key, value in env.items():
        monkeypatch.setenv(f"NEWSWATCH_KAFKA__{key}", value)
    monkeypatch.setenv("NEWSWATCH_CONFIG", os.devnull)
    s = load_settings().kafka
    kafka.ensure_topics(s)
    assert kafka.partitions_of(s, s.topic) == [0, 1, 2]
