import socket

import pytest

from newswatch.connectors.stack import (ANALYSIS_PLUGIN, ANALYSIS_SOURCES, StackError, _analysis_plugin_digest, _require_free_ports,
                              install_analysis_plugin)
from newswatch.pipelines.settings import StackSettings


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


def test_without_javac_elasticsearch_starts_without_the_analysis_plugin_and_says_so(tmp_path, caplog):
    s = StackSettings(home=tmp_path, java_home=tmp_path / "a-jre-without-javac")
    dist = tmp_path / "elasticsearch"
    assert not install_analysis_plugin(s, dist, env={})
    assert "`javac` not found" in caplog.text and "plain analyzers" in caplog.text
    assert not (dist / "plugins").exists()


def test_the_analysis_plugin_is_rebuilt_for_another_elasticsearch_version():
    assert _analysis_plugin_digest(StackSettings(es_version="8.17.0")) != _analysis_plugin_digest(StackSettings(es_version="8.18.0"))


def test_the_plugin_descriptor_names_a_class_of_the_sources_and_takes_the_node_version():
    descriptor = dict(line.split("=", 1) for line in (ANALYSIS_SOURCES / "plugin-descriptor.properties").read_text().splitlines()
                      if line and not line.startswith("#"))
    assert (ANALYSIS_SOURCES / "src" / (descriptor["classname"].replace(".", "/") + ".java")).is_file()
    assert descriptor["elasticsearch.version"] == "${es_version}" and descriptor["name"] == ANALYSIS_PLUGIN
