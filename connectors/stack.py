"""The local stack: a real Apache Kafka broker and a real OpenSearch node on loopback.

Both are resolved from Maven Central with `mvn dependency:copy-dependencies` (the POMs are in
deploy/stack/), configured under a project-local, git-ignored directory, started as plain Java
processes, waited on until they really answer, and stopped by the PID we recorded. A second
`up` downloads nothing: the copied jars carry a stamp of the POM they came from.

Used by `newswatch stack up|down|status` and by the integration-test fixtures (with other ports
and another directory, so tests never touch a developer's stack).
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from newswatch.pipelines.settings import REPO_DIR, StackSettings

DEPLOY = REPO_DIR / "deploy" / "stack"
LOG = logging.getLogger(__name__)
READY_TIMEOUT_S = 180


class StackError(RuntimeError):
    """Something in the local stack could not be fetched or started; the message says what to do."""


@dataclass
class Component:
    name: str
    pid: int | None
    port: int
    alive: bool
    rss_mb: float | None


def _java(settings: StackSettings, tool: str = "java") -> str:
    home = settings.java_home or (Path(os.environ["JAVA_HOME"]) if os.environ.get("JAVA_HOME") else None)
    path = str(home / "bin" / tool) if home else shutil.which(tool)
    if not path or not Path(path).exists():
        raise StackError(f"`{tool}` not found: install a JDK 17+ or set NEWSWATCH_STACK__JAVA_HOME")
    return path


def resolve_jars(component: str, home: Path) -> Path:
    """Copy the component's runtime jars from Maven into home/<component>/lib (once per POM)."""
    pom = DEPLOY / component / "pom.xml"
    lib = home / component / "lib"
    stamp = lib / ".pom.sha256"
    digest = hashlib.sha256(pom.read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return lib
    mvn = shutil.which("mvn")
    if not mvn:
        raise StackError("Maven (`mvn`) is needed to fetch Kafka and OpenSearch jars: install it (apt-get install maven)")
    if lib.exists():
        shutil.rmtree(lib)
    lib.mkdir(parents=True)
    cmd = [mvn, "-q", "-B", "-f", str(pom), "dependency:copy-dependencies", f"-DoutputDirectory={lib}"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise StackError(f"could not resolve {component} from Maven Central:\n{done.stdout[-2000:]}{done.stderr[-2000:]}\n"
                         f"Check network access to the Maven registry and the versions in {pom}.")
    stamp.write_text(digest)
    return lib


def _pid_file(home: Path, component: str) -> Path:
    return home / component / "pid"


def _read_pid(home: Path, component: str) -> int | None:
    path = _pid_file(home, component)
    try:
        pid = int(path.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    return pid if _alive(pid) else None


def running_pid(home: Path, component: str) -> int | None:
    """The pid of a running stack component (kafka, opensearch, elasticsearch), else None."""
    return _read_pid(home, component)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie we started ourselves is dead for our purposes
        state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0]
        return state != "Z"
    except (FileNotFoundError, IndexError):
        return True


def _rss_mb(pid: int | None) -> float | None:
    if not pid:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except FileNotFoundError:
        return None
    return None


def _leaf_pid(pid: int | None) -> int | None:
    """setpriv exec()s Elasticsearch's launcher, which starts the server JVM as its child: report
    the child's memory, not the launcher's."""
    if not pid:
        return pid
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except FileNotFoundError:
        return pid
    return int(children[-1]) if children else pid


def _require_free_ports(component: str, ports: dict[str, int]) -> None:
    """Fail with a clear message when another process (e.g. a stack from another checkout)
    already holds one of our ports, instead of a server that dies while starting."""
    import socket

    for name, port in ports.items():
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                raise StackError(f"port {port} ({component} {name}) is already in use on 127.0.0.1: stop whatever "
                                 f"holds it (another newswatch stack? `newswatch stack down` there) or choose another "
                                 f"port with NEWSWATCH_STACK__{name.upper()}") from None


def _running_or_ports_free(home: Path, component: str, ports: dict[str, int]) -> int | None:
    """PID of the component if this stack already runs it; otherwise check its ports are free."""
    pid = _read_pid(home, component)
    if pid is None:
        _require_free_ports(component, ports)
    return pid


def _spawn(cmd: list[str], home: Path, component: str) -> int:
    log = (home / component / "server.log").open("ab")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            cwd=home / component, start_new_session=True)
    _pid_file(home, component).write_text(str(proc.pid))
    return proc.pid


def _wait(check, what: str, pid: int, home: Path, component: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if not _alive(pid):
            tail = (home / component / "server.log").read_text(errors="replace")[-3000:]
            raise StackError(f"{what} exited while starting. Last log lines:\n{tail}")
        if check():
            return
        time.sleep(0.5)
    raise StackError(f"{what} did not become ready in {READY_TIMEOUT_S}s; see {home / component / 'server.log'}")


# --- Kafka -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class KafkaListener:
    """The broker's client listener. The local stack's is PLAINTEXT; a secured one (SSL, SASL_SSL, ...)
    brings its server.properties lines (key stores, SASL logins), extra `StorageTool format` arguments
    (e.g. --add-scram users) and the kafka-python options with which the readiness check connects.
    The broker also talks to itself through this listener."""
    protocol: str = "PLAINTEXT"
    properties: dict[str, str] = field(default_factory=dict)
    format_args: tuple[str, ...] = ()
    client_options: dict = field(default_factory=dict)


def _kafka_properties(s: StackSettings, data: Path, listener: KafkaListener = KafkaListener()) -> str:
    name = listener.protocol
    secured = [f"inter.broker.listener.name={name}", *(f"{k}={v}" for k, v in listener.properties.items())]
    return "\n".join([
        "process.roles=broker,controller",
        "node.id=1",
        f"controller.quorum.voters=1@127.0.0.1:{s.kafka_controller_port}",
        f"listeners={name}://127.0.0.1:{s.kafka_port},CONTROLLER://127.0.0.1:{s.kafka_controller_port}",
        f"advertised.listeners={name}://127.0.0.1:{s.kafka_port}",
        "controller.listener.names=CONTROLLER",
        f"listener.security.protocol.map={name}:{name},CONTROLLER:PLAINTEXT",
        *(secured if name != "PLAINTEXT" else []),
        f"log.dirs={data}",
        "num.partitions=3",
        "offsets.topic.replication.factor=1",
        "transaction.state.log.replication.factor=1",
        "transaction.state.log.min.isr=1",
        "group.initial.rebalance.delay.ms=0",
        "auto.create.topics.enable=false",
        # newswatch items are capped at 1 MB of text; leave room for the JSON around it
        "message.max.bytes=4194304",
        "",
    ])


def _kafka_ready(bootstrap: str, **client_options) -> bool:
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=2000, **client_options)
        admin.list_topics()
        admin.close()
        return True
    except (KafkaError, OSError, ValueError):
        return False


def _console_log4j(level: str, pattern: str) -> str:
    """A log4j2 configuration that writes every log line to the console (our log file)."""
    return (f"rootLogger.level={level}\nrootLogger.appenderRef.out.ref=OUT\n"
            "appender.out.type=Console\nappender.out.name=OUT\nappender.out.layout.type=PatternLayout\n"
            f"appender.out.layout.pattern={pattern}\n")


def start_kafka(s: StackSettings, listener: KafkaListener = KafkaListener()) -> int:
    home = s.home
    pid = _running_or_ports_free(home, "kafka", {"kafka_port": s.kafka_port,
                                                 "kafka_controller_port": s.kafka_controller_port})
    if pid:
        return pid
    lib = resolve_jars("kafka", home)
    base = home / "kafka"
    data = base / "data"
    data.mkdir(parents=True, exist_ok=True)
    props = base / "server.properties"
    props.write_text(_kafka_properties(s, data, listener))
    (base / "log4j2.properties").write_text(_console_log4j("INFO", "%d %p %c{1} %m%n"))
    java = _java(s)
    cp = f"{lib}/*"
    if not (data / "meta.properties").exists():
        cluster_id = subprocess.run([java, "-cp", cp, "kafka.tools.StorageTool", "random-uuid"],
                                    capture_output=True, text=True, check=True).stdout.split()[-1]
        done = subprocess.run([java, "-cp", cp, "kafka.tools.StorageTool", "format", "-t", cluster_id,
                               "-c", str(props), "-g", *listener.format_args], capture_output=True, text=True)
        if done.returncode != 0:
            raise StackError(f"formatting Kafka storage failed:\n{done.stdout}{done.stderr}")
    pid = _spawn([java, f"-Xmx{s.kafka_heap}", f"-Xms{s.kafka_heap}",
                  f"-Dlog4j2.configurationFile={base / 'log4j2.properties'}",
                  "-cp", cp, "kafka.Kafka", str(props)], home, "kafka")
    bootstrap = f"127.0.0.1:{s.kafka_port}"
    _wait(lambda: _kafka_ready(bootstrap, **listener.client_options), f"Kafka on {bootstrap}", pid, home, "kafka")
    return pid


# --- OpenSearch ------------------------------------------------------------------------------

def _compile_launcher(s: StackSettings, lib: Path) -> Path:
    src = DEPLOY / "opensearch" / "launcher" / "NewswatchOpenSearch.java"
    out = s.home / "opensearch" / "launcher"
    stamp = out / ".src.sha256"
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return out
    out.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([_java(s, "javac"), "-d", str(out), "-cp", f"{lib}/*", str(src)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise StackError(f"compiling the OpenSearch launcher failed:\n{done.stderr[-3000:]}")
    stamp.write_text(digest)
    return out


def http_ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_cluster/health?wait_for_status=yellow&timeout=2s", timeout=5) as resp:
            return json.loads(resp.read()).get("status") in ("yellow", "green")
    except (urllib.error.URLError, OSError, ValueError):
        return False


def start_opensearch(s: StackSettings) -> int:
    home = s.home
    pid = _running_or_ports_free(home, "opensearch", {"search_http_port": s.search_http_port,
                                                      "search_transport_port": s.search_transport_port})
    if pid:
        return pid
    lib = resolve_jars("opensearch", home)
    classes = _compile_launcher(s, lib)
    node_home = home / "opensearch" / "node"
    node_home.mkdir(parents=True, exist_ok=True)
    (node_home / "config").mkdir(exist_ok=True)
    (node_home / "config" / "log4j2.properties").write_text(
        "status=error\n" + _console_log4j("info", "[%d][%-5p][%c{1}] %m%n"))
    pid = _spawn([_java(s), f"-Xms{s.search_heap}", f"-Xmx{s.search_heap}",
                  "-Dlog4j2.disable.jmx=true", f"-Dlog4j.configurationFile={node_home / 'config' / 'log4j2.properties'}",
                  "-Dopensearch.set.netty.runtime.available.processors=false",
                  "-cp", f"{lib}/*:{classes}", "NewswatchOpenSearch", str(node_home),
                  str(s.search_http_port), str(s.search_transport_port)], home, "opensearch")
    url = f"http://127.0.0.1:{s.search_http_port}"
    _wait(lambda: http_ready(url), f"OpenSearch on {url}", pid, home, "opensearch")
    return pid


# --- Elasticsearch (optional: for the Elasticsearch backend) --------------------------------------

ES_ARTIFACT = "org.elasticsearch.distribution.integ-test-zip:elasticsearch:{version}:zip"
NOBODY = 65534


def _es_base(s: StackSettings) -> Path:
    """Where Elasticsearch's files live. As root it runs as nobody, who must be able to reach
    them: the checkout may sit under a directory nobody cannot enter, so use the temp dir."""
    if os.geteuid() != 0:
        return s.home / "elasticsearch"
    tag = hashlib.sha256(str(s.home.resolve()).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"newswatch-es-{tag}"


def resolve_elasticsearch(s: StackSettings) -> Path:
    """Elasticsearch's integ-test distribution (server, transport, x-pack core/security; no
    analysis-common, no percolator), unpacked once per version."""
    base = _es_base(s)
    dist = base / f"elasticsearch-{s.es_version}"
    if (dist / "bin" / "elasticsearch").exists():
        return dist
    mvn = shutil.which("mvn")
    if not mvn:
        raise StackError("Maven (`mvn`) is needed to fetch Elasticsearch: install it (apt-get install maven)")
    base.mkdir(parents=True, exist_ok=True)
    artifact = ES_ARTIFACT.format(version=s.es_version)
    done = subprocess.run([mvn, "-q", "-B", "dependency:copy", f"-Dartifact={artifact}", f"-DoutputDirectory={base}"],
                          capture_output=True, text=True, cwd=base)
    zips = list(base.glob(f"elasticsearch-{s.es_version}*.zip"))
    if done.returncode != 0 or not zips:
        raise StackError(f"Elasticsearch {s.es_version} ({artifact}) could not be fetched from Maven Central:\n"
                         f"{done.stdout[-1500:]}{done.stderr[-1500:]}\nSet NEWSWATCH_STACK__ES_VERSION to a served version.")
    with zipfile.ZipFile(zips[0]) as archive:
        archive.extractall(base)
    for script in (dist / "bin").iterdir():
        script.chmod(0o755)
    zips[0].unlink()
    return dist


ANALYSIS_PLUGIN = "newswatch-analysis"
ANALYSIS_SOURCES = DEPLOY / "elasticsearch-analysis"


def _analysis_plugin_digest(s: StackSettings) -> str:
    """What the built plugin depends on: its sources, its descriptor and the node's version."""
    digest = hashlib.sha256(s.es_version.encode())
    for path in sorted(p for p in ANALYSIS_SOURCES.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(ANALYSIS_SOURCES)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _zip_dir(folder: Path, target: Path) -> Path:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            archive.write(path, path.relative_to(folder).as_posix())
    return target


def _build_analysis_plugin(s: StackSettings, dist: Path, javac: str, build: Path) -> Path:
    """Compile the plugin against the node's own jars and package it as the zip that
    `elasticsearch-plugin install` takes (the jar beside plugin-descriptor.properties)."""
    if build.exists():
        shutil.rmtree(build)
    classes, package = build / "classes", build / "package"
    classes.mkdir(parents=True)
    package.mkdir()
    sources = [str(p) for p in sorted((ANALYSIS_SOURCES / "src").rglob("*.java"))]
    done = subprocess.run([javac, "--release", "17", "-nowarn", "-d", str(classes), "-cp", f"{dist / 'lib'}/*", *sources],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise StackError(f"compiling {ANALYSIS_SOURCES} against Elasticsearch {s.es_version} failed "
                         f"(its plugin API differs from the one the sources use?):\n{done.stderr[-3000:]}")
    _zip_dir(classes, package / f"{ANALYSIS_PLUGIN}.jar")
    descriptor = (ANALYSIS_SOURCES / "plugin-descriptor.properties").read_text(encoding="utf-8")
    (package / "plugin-descriptor.properties").write_text(descriptor.replace("${es_version}", s.es_version),
                                                          encoding="utf-8")
    return _zip_dir(package, build / f"{ANALYSIS_PLUGIN}.zip")


def _install_plugin(s: StackSettings, dist: Path, plugin_zip: Path, env: dict[str, str]) -> None:
    """Install with the node's own tool (it checks the descriptor and the version; a file://
    url needs no network), replacing an earlier build."""
    installed = dist / "plugins" / ANALYSIS_PLUGIN
    if installed.exists():
        shutil.rmtree(installed)
    done = subprocess.run([str(dist / "bin" / "elasticsearch-plugin"), "install", "--batch", plugin_zip.as_uri()],
                          capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise StackError(f"`elasticsearch-plugin install` refused {plugin_zip}:\n{done.stdout[-1500:]}{done.stderr[-1500:]}")


def install_analysis_plugin(s: StackSettings, dist: Path, env: dict[str, str]) -> bool:
    """Give the integ-test node the Arabic analyzer and the filters of schemas/index/analysis.json
    (it lacks analysis-common, whose Lucene classes are in its lib/), so that the index templates
    are the same on both engines. Rebuilt only when the sources or the Elasticsearch version
    change. Without javac, or when the build fails, the node runs without it: newswatch then
    indexes with plain analyzers there and says so. True when the plugin is installed."""
    build = _es_base(s) / "analysis-plugin"
    stamp = build / "installed.sha256"
    digest = _analysis_plugin_digest(s)
    installed = dist / "plugins" / ANALYSIS_PLUGIN / "plugin-descriptor.properties"
    if installed.exists() and stamp.exists() and stamp.read_text() == digest:
        return True
    try:
        plugin_zip = _build_analysis_plugin(s, dist, _java(s, "javac"), build)
        _install_plugin(s, dist, plugin_zip, env)
    except StackError as err:
        LOG.warning("Elasticsearch starts without newswatch's analysis plugin, so without the Arabic analyzer "
                    "(its indices get plain analyzers: no Arabic normalization or stemming): %s", err)
        return False
    stamp.write_text(digest)
    return True


def start_elasticsearch(s: StackSettings) -> int:
    home = s.home
    pid = _running_or_ports_free(home, "elasticsearch", {"es_http_port": s.es_http_port,
                                                         "es_transport_port": s.es_transport_port})
    if pid:
        return pid
    dist = resolve_elasticsearch(s)
    base = _es_base(s)
    for sub in ("data", "logs", "tmp"):
        (base / sub).mkdir(exist_ok=True)
    (home / "elasticsearch").mkdir(parents=True, exist_ok=True)  # pid and server.log stay with the stack
    (dist / "config" / "elasticsearch.yml").write_text("\n".join([
        "cluster.name: newswatch-es", "node.name: newswatch-es-1", "network.host: 127.0.0.1",
        f"http.port: {s.es_http_port}", f"transport.port: {s.es_transport_port}", "discovery.type: single-node",
        "xpack.security.enabled: false", "cluster.routing.allocation.disk.threshold_enabled: false",
        f"path.data: {base / 'data'}", f"path.logs: {base / 'logs'}", ""]))
    (dist / "config" / "jvm.options.d").mkdir(exist_ok=True)
    (dist / "config" / "jvm.options.d" / "heap.options").write_text(f"-Xms{s.es_heap}\n-Xmx{s.es_heap}\n")
    java = Path(_java(s)).resolve()
    env = {**os.environ, "ES_JAVA_HOME": str(java.parent.parent), "ES_TMPDIR": str(base / "tmp"), "HOME": str(base)}
    install_analysis_plugin(s, dist, env)
    cmd = [str(dist / "bin" / "elasticsearch")]
    if os.geteuid() == 0:
        # Elasticsearch refuses to run as root: drop to nobody for this process only.
        for path in [base, *base.rglob("*")]:
            os.chown(path, NOBODY, NOBODY)
        cmd = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *cmd]
    log = (home / "elasticsearch" / "server.log").open("ab")  # opened by us, inherited by the server
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=base,
                            env=env, start_new_session=True)
    _pid_file(home, "elasticsearch").write_text(str(proc.pid))
    url = f"http://127.0.0.1:{s.es_http_port}"
    _wait(lambda: http_ready(url), f"Elasticsearch on {url}", proc.pid, home, "elasticsearch")
    return proc.pid


# --- the whole stack ---------------------------------------------------------------------------

def up(s: StackSettings, elasticsearch: bool = False) -> list[Component]:
    s.home.mkdir(parents=True, exist_ok=True)
    start_kafka(s)
    start_opensearch(s)
    if elasticsearch:
        start_elasticsearch(s)
    return status(s)


def stop(s: StackSettings, component: str, grace_s: float = 30) -> None:
    pid = _read_pid(s.home, component)
    if pid:
        os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _alive(pid):
            os.killpg(pid, signal.SIGKILL)
    _pid_file(s.home, component).unlink(missing_ok=True)


def down(s: StackSettings) -> None:
    for component in ("elasticsearch", "opensearch", "kafka"):
        stop(s, component)


def status(s: StackSettings) -> list[Component]:
    out = []
    for name, port in (("kafka", s.kafka_port), ("opensearch", s.search_http_port), ("elasticsearch", s.es_http_port)):
        pid = _read_pid(s.home, name)
        if name == "elasticsearch" and pid is None:
            continue  # optional component, shown only when running
        out.append(Component(name, pid, port, pid is not None, _rss_mb(_leaf_pid(pid))))
    return out
