import socket

import pytest

from newswatch.connectors.stack import StackError, _require_free_ports


def test_a_taken_port_is_reported_with_what_to_do():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(StackError, match=f"port {port} .* already in use.*NEWSWATCH_STACK__KAFKA_PORT"):
            _require_free_ports("kafka", {"kafka_port": port})


def test_free_ports_pass():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    _require_free_ports("kafka", {"kafka_port": port})
