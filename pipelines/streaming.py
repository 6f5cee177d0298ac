"""The newswatch streaming pipeline: Kafka -> validate -> language -> normalize -> tag ->
geocode -> Elasticsearch/OpenSearch, with dead letters and offsets committed after durability."""
from __future__ import annotations

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from newswatch.connectors.kafka_io import ReadFromKafka, WriteDeadLetters
from newswatch.connectors.search_io import WriteDocumentsAndAlerts

from .settings import Settings
from .transforms.documents import ToDocuments
from .transforms.geo import Geocode
from .transforms.language import DetectLanguage
from .transforms.match import MatchSubscriptions
from .transforms.normalize import NormalizeText
from .transforms.tagging import TagEvents
from .transforms.validate import DEAD, ParseAndValidate


def build(pipeline: beam.Pipeline, settings: Settings, partitions: list[int] | None = None) -> None:
    """The flow of DESIGN.md; `partitions` restricts reading (a worker's share, or a careful run)."""
    # Every dead-letter output gets its own DLQ writer: no Flatten (see CommitsDurableOffsets).
    def dead_letters(pcoll, label: str) -> None:
        pcoll | f"DLQ{label}" >> WriteDeadLetters(settings.kafka)

    records = pipeline | "ReadNews" >> ReadFromKafka(settings.kafka, partitions=partitions)
    parsed = records | "Validate" >> ParseAndValidate(settings.pipeline.max_item_bytes)
    dead_letters(parsed[DEAD], "Validate")
    articles = parsed.articles
    for label, transform in (("Language", DetectLanguage()), ("Normalize", NormalizeText()),
                             ("Tagging", TagEvents()), ("Geo", Geocode())):
        articles, dead = articles | label >> transform
        dead_letters(dead, label)
    requests, dead = articles | "ToDocuments" >> ToDocuments(settings.search)
    dead_letters(dead, "Documents")
    # One batch per bundle (a poll of one partition), up to bulk_max_docs, flushed when the bundle
    # ends. Not adaptive: BatchElements sizes batches so that the steps after it take under a
    # second, and those are round trips to the engine (percolate, bulk), so it kept batches at
    # ~40 items and a partition at a batch per second.
    bulk = settings.search.bulk_max_docs
    batches = requests | "Batch" >> beam.BatchElements(min_batch_size=bulk, max_batch_size=bulk)
    # Match runs inside Write, in its background thread, before each batch is written.
    match = MatchSubscriptions(settings.search, settings.alerts)
    written = batches | "MatchAndWrite" >> WriteDocumentsAndAlerts(settings.search, settings.kafka, settings.alerts,
                                                                    before_write=match)
    dead_letters(written[DEAD], "Index")
    # Nothing flows here (the writer only emits dead letters). The edge gives the fused stage an
    # output: Prism (seen on 2.75 and 2.77) waits for a stage's bundle in a loop that spins on a closed
    # channel when the stage has no outputs, two cores busy for a stream with nothing to read.
    written.done | "EndOfBundle" >> beam.Reshuffle() | "Discard" >> beam.Map(_discard)


def _discard(_) -> None:
    return None


def _runner_args(p) -> list[str]:
    if p.runner == "portable":
        return ["--runner=PortableRunner", f"--job_endpoint={p.job_endpoint}"]
    if p.runner == "flink":
        jar = p.flink_job_server_jar
        if jar is None or not jar.is_file():
            raise FileNotFoundError(
                f"pipeline.flink_job_server_jar {'is not set' if jar is None else f'({jar}) does not exist'}: download "
                "org.apache.beam:beam-runners-flink-<flink minor>-job-server:2.77.0 from Maven Central and give its "
                "path (newswatch never lets Beam download it at run time); see deploy/flink/README.md")
        return ["--runner=FlinkRunner", f"--flink_master={p.flink_master}", f"--parallelism={p.parallelism}",
                f"--flink_job_server_jar={jar}"]
    if not p.prism_binary.exists():
        raise FileNotFoundError(f"Prism runner binary not found at {p.prism_binary}: run ./setup.sh "
                                "(it builds Prism from the Go module proxy) or set NEWSWATCH_PIPELINE__PRISM_BINARY")
    # Chosen explicitly: DirectRunner would try to download Prism at run time, then fall back to
    # a runner without unbounded sources.
    return ["--runner=PrismRunner", f"--prism_location={p.prism_binary}"]


def runner_options(settings: Settings, extra: list[str] | None = None) -> PipelineOptions:
    p = settings.pipeline
    environment = [f"--environment_type={p.environment_type}"]
    if p.environment_config:
        environment.append(f"--environment_config={p.environment_config}")
    # Beam applies job_server_timeout (default 300 s) to the job's state and message streams as
    # well: a streaming job's driver then died every five minutes (DEADLINE_EXCEEDED) and the
    # supervisor restarted it. A streaming job runs for good, so the streams get a year.
    streaming = ["--streaming", "--job_name=newswatch", f"--job_server_timeout={365 * 86400}"]
    return PipelineOptions(_runner_args(p) + environment + streaming + (extra or []))


def prepare(settings: Settings) -> None:
    """Every topic, index template and index the pipeline and the alerts need, if missing."""
    from newswatch.connectors import kafka
    from newswatch.connectors.search import SearchBackend

    a = settings.alerts
    kafka.ensure_topics(settings.kafka, extra=((a.topic, settings.kafka.partitions), (a.dlq_topic, 1)))
    SearchBackend(settings.search).ensure_templates()


def run(settings: Settings, partitions: list[int] | None = None) -> None:
    prepare(settings)
    with beam.Pipeline(options=runner_options(settings)) as pipeline:
        build(pipeline, settings, partitions)
