"""TLS and SASL settings for Kafka, TLS and API key / basic auth for the search engine: the client
options they turn into, the messages that say what to fix, and secrets kept out of every text."""
from __future__ import annotations

import base64
import datetime
import logging
import socket
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.net.transport import KafkaSSLTransport
from pydantic import ValidationError

from newswatch.connectors import kafka
from newswatch.connectors.search import SearchBackend, _make_client, redact_url
from newswatch.pipelines.cli import main
from newswatch.pipelines.settings import KafkaSettings, SearchSettings, Settings, SettingsError, api_key_token, load_settings

PASSWORD = "pa55-Kafka-s3cret"
KEY_PASSWORD = "k3y-file-s3cret"
API_KEY = "VuaCfGcBCdbkQm-e5aOx:ui2lp2axTNmsyakw9tvNnw"


@pytest.fixture(scope="module")
def pem(tmp_path_factory) -> dict[str, Path]:
    """A self-signed certificate (also used as its own CA) and its key, encrypted with KEY_PASSWORD."""
    folder = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "newswatch unit test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(key, hashes.SHA256()))
    paths = {"cert": folder / "cert.pem", "key": folder / "key.pem"}
    paths["cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths["key"].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.BestAvailableEncryption(KEY_PASSWORD.encode())))
    return paths


@pytest.fixture(autouse=True)
def no_config_file(monkeypatch):
    monkeypatch.setenv("NEWSWATCH_CONFIG", "/dev/null")


def sasl_ssl(pem, **extra) -> KafkaSettings:
    return KafkaSettings(**{"bootstrap": "broker-1:9093", "security_protocol": "SASL_SSL",
                            "sasl_mechanism": "SCRAM-SHA-512", "sasl_username": "newswatch",
                            "sasl_password": PASSWORD, "ssl_cafile": pem["cert"], **extra})


def settings_error(**fields) -> str:
    with pytest.raises(SettingsError) as caught:
        load_settings(**fields)
    return str(caught.value)


# --- Kafka: client options -------------------------------------------------------------------------

def test_plaintext_is_the_default_and_adds_nothing():
    assert kafka.client_config(KafkaSettings()) == {"bootstrap_servers": "127.0.0.1:19092",
                                                     "security_protocol": "PLAINTEXT"}


def test_sasl_ssl_turns_into_kafka_python_options(pem):
    config = kafka.client_config(sasl_ssl(pem))
    assert config == {"bootstrap_servers": "broker-1:9093", "security_protocol": "SASL_SSL",
                      "ssl_check_hostname": True, "ssl_cafile": str(pem["cert"]),
                      "sasl_mechanism": "SCRAM-SHA-512", "sasl_plain_username": "newswatch",
                      "sasl_plain_password": PASSWORD}


@pytest.mark.parametrize("client", [KafkaConsumer, KafkaProducer, KafkaAdminClient])
def test_every_option_is_one_the_kafka_clients_know(pem, client):
    config = kafka.client_config(sasl_ssl(pem, ssl_certfile=pem["cert"], ssl_keyfile=pem["key"],
                                          ssl_key_password=KEY_PASSWORD))
    assert set(config) <= set(client.DEFAULT_CONFIG)


def test_kafka_python_builds_a_verifying_tls_context_from_them(pem):
    config = kafka.client_config(sasl_ssl(pem, ssl_certfile=pem["cert"], ssl_keyfile=pem["key"],
                                          ssl_key_password=KEY_PASSWORD))
    context = KafkaSSLTransport._build_ssl_context({**KafkaSSLTransport.DEFAULT_CONFIG, **config})
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert [c["subject"] for c in context.get_ca_certs()] == [((("commonName", "newswatch unit test"),),)]


def test_hostname_check_can_be_switched_off_but_the_chain_is_still_verified(pem):
    config = kafka.client_config(KafkaSettings(security_protocol="SSL", ssl_cafile=pem["cert"], ssl_check_hostname=False))
    context = KafkaSSLTransport._build_ssl_context({**KafkaSSLTransport.DEFAULT_CONFIG, **config})
    assert not context.check_hostname and context.verify_mode == ssl.CERT_REQUIRED


def test_kafka_settings_come_from_the_environment(pem, monkeypatch):
    for key, value in {"SECURITY_PROTOCOL": "SASL_SSL", "SASL_MECHANISM": "PLAIN", "SASL_USERNAME": "newswatch",
                       "SASL_PASSWORD": PASSWORD, "SSL_CAFILE": str(pem["cert"]), "SSL_CHECK_HOSTNAME": "false"}.items():
        monkeypatch.setenv(f"NEWSWATCH_KAFKA__{key}", value)
    s = load_settings().kafka
    assert s.sasl_password.get_secret_value() == PASSWORD and s.ssl_cafile == pem["cert"]
    assert kafka.client_config(s)["sasl_plain_password"] == PASSWORD and not s.ssl_check_hostname


def test_kafka_python_debug_logs_that_dump_the_login_are_held_at_info(pem):
    parent = logging.getLogger("kafka")
    before = {name: logging.getLogger(name).level for name in ("kafka", *kafka._LOGGERS_THAT_DUMP_SECRETS)}
    parent.setLevel(logging.DEBUG)
    try:
        kafka.client_config(sasl_ssl(pem))
        for name in kafka._LOGGERS_THAT_DUMP_SECRETS:
            assert not logging.getLogger(name).isEnabledFor(logging.DEBUG), name
    finally:
        for name, level in before.items():
            logging.getLogger(name).setLevel(level)


# --- Kafka: what to fix ----------------------------------------------------------------------------

def test_sasl_without_a_username_names_the_setting_and_not_the_password(pem):
    message = settings_error(kafka={"security_protocol": "SASL_SSL", "sasl_mechanism": "PLAIN",
                                    "sasl_password": PASSWORD, "ssl_cafile": str(pem["cert"])})
    assert "kafka.sasl_username" in message and "NEWSWATCH_KAFKA__SASL_USERNAME" in message
    assert PASSWORD not in message


@pytest.mark.parametrize("fields, expected", [
    ({"security_protocol": "SASL_SSL", "sasl_username": "u", "sasl_password": PASSWORD},
     "kafka.sasl_mechanism (env NEWSWATCH_KAFKA__SASL_MECHANISM) is not set: set it to PLAIN, SCRAM-SHA-256 or "
     "SCRAM-SHA-512"),
    ({"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "PLAIN", "sasl_username": "u"},
     "kafka.sasl_password (env NEWSWATCH_KAFKA__SASL_PASSWORD) is not set"),
    ({"sasl_username": "u", "sasl_password": PASSWORD},
     "kafka.sasl_username (env NEWSWATCH_KAFKA__SASL_USERNAME) is set but kafka.security_protocol is PLAINTEXT, "
     "which does not use it: set kafka.security_protocol to SASL_SSL (or SASL_PLAINTEXT)"),
    ({"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "PLAIN", "sasl_username": "u",
      "sasl_password": PASSWORD, "ssl_cafile": "/etc/hostname"},
     "kafka.ssl_cafile (env NEWSWATCH_KAFKA__SSL_CAFILE) is set but kafka.security_protocol is SASL_PLAINTEXT"),
    ({"security_protocol": "SSL", "ssl_cafile": "/nonexistent/ca.pem"},
     "kafka.ssl_cafile (env NEWSWATCH_KAFKA__SSL_CAFILE) names /nonexistent/ca.pem, which is not a file"),
    ({"security_protocol": "SASL_SSL", "sasl_mechanism": "GSSAPI", "sasl_username": "u", "sasl_password": PASSWORD},
     "kafka.sasl_mechanism: Input should be 'PLAIN', 'SCRAM-SHA-256' or 'SCRAM-SHA-512'"),
    ({"security_protocol": "TLS"}, "kafka.security_protocol: Input should be 'PLAINTEXT', 'SSL', 'SASL_PLAINTEXT'"),
])
def test_kafka_mistakes_say_what_to_fix(fields, expected):
    message = settings_error(kafka=fields)
    assert expected in message
    assert PASSWORD not in message


def test_a_key_file_needs_its_certificate(pem):
    message = settings_error(kafka={"security_protocol": "SSL", "ssl_keyfile": str(pem["key"]),
                                    "ssl_key_password": KEY_PASSWORD})
    assert "kafka.ssl_certfile" in message and KEY_PASSWORD not in message


def test_an_unreachable_broker_is_explained():
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    message = kafka.explain_connection_failure(KafkaSettings(bootstrap=f"127.0.0.1:{port}"))
    assert message.startswith(f"cannot reach Kafka at 127.0.0.1:{port}") and "check kafka.bootstrap" in message


# --- search engine ---------------------------------------------------------------------------------

def _opensearch_connection(s: SearchSettings):
    return _make_client(s).transport.get_connection()


def _elasticsearch_node(s: SearchSettings):
    return _make_client(s).transport.node_pool.all()[0]


def test_opensearch_client_verifies_tls_against_the_given_ca(pem):
    conn = _opensearch_connection(SearchSettings(url="https://search:9200", ca_certs=pem["cert"],
                                                 username="nw", password=PASSWORD))
    assert conn.use_ssl and conn.pool.cert_reqs == "CERT_REQUIRED" and conn.pool.ca_certs == str(pem["cert"])
    assert conn.pool.assert_hostname is None  # urllib3's default: the host name is checked
    expected = "Basic " + base64.b64encode(f"nw:{PASSWORD}".encode()).decode()
    assert conn.headers["authorization"] == expected


def test_opensearch_client_sends_an_api_key_header():
    conn = _opensearch_connection(SearchSettings(url="https://search:9200", api_key=API_KEY))
    assert conn.headers["authorization"] == "ApiKey " + base64.b64encode(API_KEY.encode()).decode()


def test_opensearch_client_without_verification_when_asked():
    conn = _opensearch_connection(SearchSettings(url="https://search:9200", verify_certs=False))
    assert conn.pool.cert_reqs == "CERT_NONE"


def test_elasticsearch_client_verifies_tls_and_host_name(pem):
    node = _elasticsearch_node(SearchSettings(backend="elasticsearch", url="https://es:9200", ca_certs=pem["cert"],
                                              api_key=API_KEY))
    context = node.pool.conn_kw["ssl_context"]
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert node.config.ca_certs == str(pem["cert"])


def test_elasticsearch_client_api_key_in_both_forms():
    encoded = base64.b64encode(API_KEY.encode()).decode()
    for given in (API_KEY, encoded):
        client = _make_client(SearchSettings(backend="elasticsearch", url="https://es:9200", api_key=given))
        assert client._headers["authorization"] == f"ApiKey {encoded}"


def test_elasticsearch_client_basic_auth_and_no_verification():
    client = _make_client(SearchSettings(backend="elasticsearch", url="https://es:9200", username="nw",
                                         password=PASSWORD, verify_certs=False))
    node = client.transport.node_pool.all()[0]
    assert node.pool.conn_kw["ssl_context"].verify_mode == ssl.CERT_NONE
    assert client._headers["authorization"] == "Basic " + base64.b64encode(f"nw:{PASSWORD}".encode()).decode()


def test_credentials_in_the_url_move_to_username_and_password():
    s = SearchSettings(url=f"https://nw:{PASSWORD.replace('-', '%2D')}@search:9200")
    assert s.url == "https://search:9200" and s.username == "nw" and s.password.get_secret_value() == PASSWORD


@pytest.mark.parametrize("fields, expected", [
    ({"username": "nw"}, "basic auth needs both search.username and search.password: set search.password"),
    ({"password": PASSWORD}, "set search.username (env NEWSWATCH_SEARCH__USERNAME)"),
    ({"username": "nw", "password": PASSWORD, "api_key": API_KEY}, "keep one of them"),
    ({"url": f"https://nw:{PASSWORD}@search:9200", "username": "nw"}, "search.url carries credentials"),
    ({"backend": "elasticsearch", "api_key": "not-a-key"}, "search.api_key (env NEWSWATCH_SEARCH__API_KEY) is not an "
                                                           "API key: give it as ID:KEY or as the base64"),
    ({"url": "http://search:9200", "ca_certs": "/etc/hostname"}, "search.url is not https://"),
    ({"url": "https://search:9200", "ca_certs": "/nonexistent/ca.pem"}, "search.ca_certs (env NEWSWATCH_SEARCH__CA_CERTS) "
                                                                         "names /nonexistent/ca.pem, which is not a file"),
])
def test_search_mistakes_say_what_to_fix(fields, expected):
    message = settings_error(search=fields)
    assert expected in message
    assert PASSWORD not in message and "not-a-key" not in message


def test_an_opaque_token_is_accepted_for_opensearch_only():
    assert api_key_token(SearchSettings(api_key="opaque.token-1").api_key, strict=False) == "opaque.token-1"
    with pytest.raises(SettingsError):
        load_settings(search={"backend": "elasticsearch", "api_key": "opaque.token-1"})


def test_search_errors_and_urls_lose_their_secrets():
    backend = SearchBackend(SearchSettings(url="https://search:9200", username="nw", password=PASSWORD))
    scrubbed = backend.scrub(f"ConnectionError at https://nw:{PASSWORD}@search:9200/_bulk (sent {PASSWORD})")
    assert PASSWORD not in scrubbed and "https://***@search:9200/_bulk" in scrubbed
    assert redact_url("https://nw:x@search:9200") == "https://***@search:9200"
    api = SearchBackend(SearchSettings(url="https://search:9200", api_key=API_KEY))
    assert api.scrub(f"header ApiKey {base64.b64encode(API_KEY.encode()).decode()}") == "header ApiKey ***"


# --- secrets never in text -------------------------------------------------------------------------

def test_repr_str_and_dumps_mask_every_secret(pem):
    s = Settings(kafka=sasl_ssl(pem, ssl_certfile=pem["cert"], ssl_keyfile=pem["key"], ssl_key_password=KEY_PASSWORD),
                 search=SearchSettings(url="https://search:9200", api_key=API_KEY))
    texts = [repr(s), str(s), str(s.model_dump()), s.model_dump_json(), repr(s.kafka), f"{s.search}"]
    for text in texts:
        for secret in (PASSWORD, KEY_PASSWORD, API_KEY):
            assert secret not in text
    assert "**********" in s.model_dump_json()


def test_a_pydantic_error_does_not_echo_the_input():
    with pytest.raises(ValidationError) as caught:
        Settings(kafka={"security_protocol": "SASL_SSL", "sasl_password": PASSWORD})
    assert PASSWORD not in str(caught.value)


def test_the_cli_prints_what_to_fix_without_the_password(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NEWSWATCH_KAFKA__SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("NEWSWATCH_KAFKA__SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("NEWSWATCH_KAFKA__SASL_PASSWORD", PASSWORD)
    items = tmp_path / "items.jsonl"
    items.write_text('{"id": "1"}\n')
    assert main(["produce", str(items)]) == 2
    out = capsys.readouterr()
    assert "newswatch: invalid settings: " in out.err and "NEWSWATCH_KAFKA__SASL_USERNAME" in out.err
    assert PASSWORD not in out.err + out.out
