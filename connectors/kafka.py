"""Kafka plumbing that knows nothing of news: client settings, topics, producing, committed
offsets. Every client newswatch opens takes its connection settings from `client_config`."""
from __future__ import annotations

import logging
import socket
import ssl

import kafka.errors
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError
from kafka.structs import OffsetAndMetadata

from newswatch.pipelines.settings import KafkaSettings, SettingsError

# At DEBUG these kafka-python loggers print the client configuration and every request, the SASL
# PLAIN login bytes included: with a secret configured they are held at INFO.
_LOGGERS_THAT_DUMP_SECRETS = ("kafka.admin.client", "kafka.net.connection", "kafka.protocol.parser")
# How a client says it reached no broker: kafka-python 3 times out, 2.x raised NoBrokersAvailable.
_NO_BROKER = tuple(getattr(kafka.errors, name) for name in ("KafkaTimeoutError", "NoBrokersAvailable")
                   if hasattr(kafka.errors, name))


class KafkaConnectError(SettingsError):
    """No client could connect to the brokers; the message says which setting to check."""


def client_config(s: KafkaSettings) -> dict:
    """Connection settings shared by every consumer, producer and admin client: the bootstrap
    servers, TLS and the SASL login. It holds the password in clear: pass it to a client, never log it."""
    config: dict = {"bootstrap_servers": s.bootstrap, "security_protocol": s.security_protocol}
    if s.uses_tls:
        config.update(_tls_config(s))
    if s.uses_sasl:
        config.update(sasl_mechanism=s.sasl_mechanism, sasl_plain_username=s.sasl_username,
                      sasl_plain_password=s.sasl_password.get_secret_value())
    if s.sasl_password is not None or s.ssl_key_password is not None:
        _keep_secrets_out_of_debug_logs()
    return config


def _keep_secrets_out_of_debug_logs() -> None:
    for name in _LOGGERS_THAT_DUMP_SECRETS:
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < logging.INFO:
            logger.setLevel(logging.INFO)


def _tls_config(s: KafkaSettings) -> dict:
    config = {"ssl_check_hostname": s.ssl_check_hostname}
    for option, path in (("ssl_cafile", s.ssl_cafile), ("ssl_certfile", s.ssl_certfile), ("ssl_keyfile", s.ssl_keyfile)):
        if path is not None:
            config[option] = str(path)
    if s.ssl_key_password is not None:
        config["ssl_password"] = s.ssl_key_password.get_secret_value()
    return config


def new_consumer(s: KafkaSettings, **kwargs) -> KafkaConsumer:
    return KafkaConsumer(**client_config(s), **kwargs)


def ensure_topics(s: KafkaSettings, extra: tuple[tuple[str, int], ...] = ()) -> None:
    """Create the news and dead-letter topics, and the `extra` (name, partitions), if missing. The first thing newswatch asks of Kafka,
    so a broker that cannot be reached, or refuses the TLS or SASL settings, is explained here."""
    try:
        admin = KafkaAdminClient(**client_config(s))
    except _NO_BROKER as err:
        raise KafkaConnectError(explain_connection_failure(s)) from err
    try:
        for name, partitions in ((s.topic, s.partitions), (s.dlq_topic, 1), *extra):
            try:
                admin.create_topics([NewTopic(name, partitions, 1, topic_configs={"max.message.bytes": "4194304"})])
            except TopicAlreadyExistsError:
                pass
    finally:
        admin.close()


def partitions_of(s: KafkaSettings, topic: str) -> list[int]:
    consumer = new_consumer(s)
    try:
        parts = consumer.partitions_for_topic(topic)
    finally:
        consumer.close()
    if not parts:
        raise RuntimeError(f"topic {topic!r} does not exist on {s.bootstrap}; run `newswatch stack up` "
                           "or create it (newswatch creates it on `newswatch demo` / `newswatch run`)")
    return sorted(parts)


def consume_whole_topic(s: KafkaSettings, topic: str, group_id: str, **kwargs) -> KafkaConsumer:
    """A consumer that owns every partition of `topic` and commits as `group_id`, without joining
    the group: assigned, not subscribed. For a consumer that must see the whole topic in one
    process. Also, kafka-python 3.0.12 can spin forever in a group rejoin when its first
    assignment raced the new topic's metadata (seen in the delivery worker: a core at 100 %,
    no partitions, no alerts)."""
    # metadata refreshed every 30 s, not 5 min, so that partitions added later are seen soon
    consumer = new_consumer(s, group_id=group_id, **{"metadata_max_age_ms": 30_000, **kwargs})
    try:
        consumer.assign([TopicPartition(topic, p) for p in partitions_of(s, topic)])
    except BaseException:
        consumer.close()
        raise
    return consumer


def assign_new_partitions(consumer: KafkaConsumer, topic: str) -> list[int]:
    """Adds to an assigned consumer the partitions of `topic` that its metadata lists and that it
    does not own yet, and returns them. Without this, a consumer from consume_whole_topic would
    never read a partition added to the topic after it started: those records would be lost to
    it. A new partition has no committed offset, so it is read from `auto_offset_reset`; the
    partitions it already owns keep their positions."""
    owned = {tp.partition for tp in consumer.assignment() if tp.topic == topic}
    listed = set(consumer.partitions_for_topic(topic) or ())
    new = sorted(listed - owned)
    if new:
        consumer.assign([TopicPartition(topic, p) for p in sorted(owned | listed)])
    return new


def producer(s: KafkaSettings) -> KafkaProducer:
    return KafkaProducer(**client_config(s), acks="all", linger_ms=5,
                         max_request_size=4 * 1024 * 1024, retries=10)


def produce(s: KafkaSettings, values: list[bytes], topic: str | None = None, keys: list[bytes | None] | None = None,
            partition: int | None = None) -> None:
    """Send and wait for every acknowledgement; `partition` pins them all to one partition."""
    prod = producer(s)
    try:
        for i, value in enumerate(values):
            prod.send(topic or s.topic, value=value, key=keys[i] if keys else None, partition=partition)
        prod.flush()
    finally:
        prod.close()


def _group_consumer(s: KafkaSettings) -> KafkaConsumer:
    return new_consumer(s, group_id=s.group_id, enable_auto_commit=False)


def start_offset(s: KafkaSettings, topic: str, partition: int) -> int:
    """Where a run resumes: the group's committed offset, else the beginning of the partition."""
    consumer = _group_consumer(s)
    try:
        tp = TopicPartition(topic, partition)
        committed = consumer.committed(tp)
        if committed is not None:
            return committed
        return consumer.beginning_offsets([tp])[tp]
    finally:
        consumer.close()


def commit(s: KafkaSettings, topic: str, partition: int, next_offset: int, consumer: KafkaConsumer | None = None) -> None:
    own = consumer is None
    consumer = consumer or _group_consumer(s)
    try:
        consumer.commit({TopicPartition(topic, partition): OffsetAndMetadata(next_offset, "", -1)})
    finally:
        if own:
            consumer.close()


def committed_offsets(s: KafkaSettings, topic: str) -> dict[int, int | None]:
    consumer = _group_consumer(s)
    try:
        return {p: consumer.committed(TopicPartition(topic, p)) for p in partitions_of(s, topic)}
    finally:
        consumer.close()


def reset_group(s: KafkaSettings, topic: str) -> None:
    """Rewind the consumer group to the beginning (a replay)."""
    consumer = _group_consumer(s)
    try:
        parts = [TopicPartition(topic, p) for p in partitions_of(s, topic)]
        begin = consumer.beginning_offsets(parts)
        consumer.commit({tp: OffsetAndMetadata(begin[tp], "", -1) for tp in parts})
    finally:
        consumer.close()


def end_offsets(s: KafkaSettings, topic: str) -> dict[int, int]:
    consumer = new_consumer(s)
    try:
        parts = [TopicPartition(topic, p) for p in partitions_of(s, topic)]
        return {tp.partition: off for tp, off in consumer.end_offsets(parts).items()}
    finally:
        consumer.close()


# --- why a connection failed --------------------------------------------------------------------
# kafka-python reports every bootstrap failure as "Unable to bootstrap": probe the first server
# with a TCP connection and a TLS handshake to tell the user which setting to look at.

def explain_connection_failure(s: KafkaSettings) -> str:
    host, port = _first_server(s.bootstrap)
    where = f"Kafka at {host}:{port}"
    try:
        socket.create_connection((host, port), timeout=10).close()
    except OSError as err:
        return f"cannot reach {where} ({err.strerror or err}): check kafka.bootstrap and that the broker is running"
    tls_problem = _tls_problem(s, host, port)
    if tls_problem:
        return f"{where}: {tls_problem}"
    if s.uses_sasl:
        return (f"{where} did not accept the SASL {s.sasl_mechanism} login of user {s.sasl_username!r}: check "
                f"kafka.sasl_username and kafka.sasl_password, and that the broker's listener enables "
                f"{s.sasl_mechanism} (kafka.sasl_mechanism)")
    return (f"{where} accepts connections but did not answer as a {s.security_protocol} Kafka listener: if it "
            "requires a login, set kafka.security_protocol to SASL_SSL or SASL_PLAINTEXT and kafka.sasl_*")


def _first_server(bootstrap: str) -> tuple[str, int]:
    host, _, port = bootstrap.split(",")[0].strip().rpartition(":")
    return host.strip("[]") or "localhost", int(port or 9092)


def _tls_problem(s: KafkaSettings, host: str, port: int) -> str | None:
    """What is wrong with TLS on this listener for these settings, or None."""
    if not s.uses_tls:
        if _speaks_tls(host, port, _any_certificate()):
            return ("the listener speaks TLS but kafka.security_protocol is "
                    f"{s.security_protocol}: set it to {'SASL_SSL' if s.uses_sasl else 'SSL'} and kafka.ssl_cafile")
        return None
    try:
        context = _tls_context(s)
    except (ssl.SSLError, OSError) as err:
        return (f"the client certificate could not be loaded ({err}): check kafka.ssl_certfile, kafka.ssl_keyfile "
                "(PEM files that belong together) and kafka.ssl_key_password")
    try:
        _speaks_tls(host, port, context, raise_errors=True)
    except ssl.SSLCertVerificationError as err:
        if err.verify_code == 62:  # X509_V_ERR_HOSTNAME_MISMATCH
            return (f"{err.verify_message}: connect by a name in the broker's certificate (kafka.bootstrap), or "
                    "set kafka.ssl_check_hostname to false (the certificate is then still checked against the CA)")
        return (f"the broker's certificate is not trusted ({err.verify_message}): set kafka.ssl_cafile to the CA "
                "certificate (PEM) that signed it")
    except (ssl.SSLError, OSError) as err:
        return (f"no TLS handshake ({err}): if the listener does not use TLS, set kafka.security_protocol to "
                f"{'SASL_PLAINTEXT' if s.uses_sasl else 'PLAINTEXT'}")
    return None


def _tls_context(s: KafkaSettings) -> ssl.SSLContext:
    """The same checks kafka-python makes (see client_config)."""
    context = ssl.create_default_context(cafile=str(s.ssl_cafile) if s.ssl_cafile else None)
    context.check_hostname = s.ssl_check_hostname
    if s.ssl_certfile:
        password = s.ssl_key_password.get_secret_value() if s.ssl_key_password else None
        context.load_cert_chain(str(s.ssl_certfile), str(s.ssl_keyfile) if s.ssl_keyfile else None, password)
    return context


def _any_certificate() -> ssl.SSLContext:
    """Only to learn whether a listener speaks TLS at all; never used to send anything."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _speaks_tls(host: str, port: int, context: ssl.SSLContext, raise_errors: bool = False) -> bool:
    try:
        with socket.create_connection((host, port), timeout=10) as sock:
            with context.wrap_socket(sock, server_hostname=host):
                return True
    except (ssl.SSLError, OSError):
        if raise_errors:
            raise
        return False


def read_topic(s: KafkaSettings, topic: str, last_n: int | None = None) -> list:
    """The messages of every partition of a topic, from the beginning (or the last `last_n` of each
    partition) to its end as of the call: it returns, however busy the topic."""
    consumer = new_consumer(s, enable_auto_commit=False)
    try:
        tps = [TopicPartition(topic, p) for p in partitions_of(s, topic)]
        consumer.assign(tps)
        begins, ends = consumer.beginning_offsets(tps), consumer.end_offsets(tps)
        for tp in tps:
            consumer.seek(tp, begins[tp] if last_n is None else max(begins[tp], ends[tp] - last_n))
        found = []
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            for messages in consumer.poll(timeout_ms=1000).values():
                found.extend(m for m in messages if m.offset < ends[TopicPartition(m.topic, m.partition)])
        return found
    finally:
        consumer.close()


def recent_keys(s: KafkaSettings, topic: str, last_n: int) -> set[bytes]:
    """The keys of the last `last_n` messages of each partition of a topic."""
    return {m.key for m in read_topic(s, topic, last_n) if m.key is not None}
