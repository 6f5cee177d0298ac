"""The wheel, installed outside the checkout: a temporary virtual environment gets the wheel built
from this checkout (with its compiled NLP extension modules) and nothing of the checkout itself.
The dependencies come from the project's environment through a path entry, which is a plain
directory there: its editable-install hook (a .pth file) is not run, so `newswatch` can only be
the wheel's. Then, from a directory outside the checkout: tag, normalize, and run the streaming
pipeline against the test stack."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from newswatch.connectors import kafka
from newswatch.connectors.search import SearchBackend
from newswatch.pipelines.streaming import prepare

from .conftest import REPO_DIR, PipelineProcess, news_item, wait_for

PACKAGED = {"pyproject.toml", "setup.py", "README.md", "pipelines", "connectors", "api", "schemas", "deploy"}
ARTICLE = "Government warplanes carried out airstrikes on rebel positions near Idlib on Tuesday."


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The bin/ directory of a fresh virtual environment with only the wheel installed."""
    root = tmp_path_factory.mktemp("wheel")
    source = _copy_of_the_sources(root / "source")  # an in-tree build/ could carry stale modules
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(root / "dist"), str(source)], capture_output=True, text=True, timeout=900)
    assert built.returncode == 0, built.stderr[-3000:]
    wheel = next((root / "dist").glob("newswatch-*.whl"))
    subprocess.run([sys.executable, "-m", "venv", str(root / "venv")], check=True, timeout=300)
    venv_site = Path(subprocess.run([str(root / "venv" / "bin" / "python"), "-c",
                                     "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                    capture_output=True, text=True, check=True).stdout.strip())
    (venv_site / "project-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    done = subprocess.run([str(root / "venv" / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps",
                           "--no-index", str(wheel)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return root / "venv" / "bin"


def _copy_of_the_sources(target: Path) -> Path:
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO_DIR, capture_output=True,
                            text=True, check=True).stdout.split()
    for name in listed:
        if name.split("/")[0] in PACKAGED and (REPO_DIR / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO_DIR / name, target / name)
    return target


def _outside(bin_dir: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    cwd = bin_dir.parents[1]  # the temporary directory: no checkout on the path
    return subprocess.run([str(bin_dir / args[0]), *args[1:]], input=stdin, capture_output=True, text=True,
                          cwd=cwd, timeout=300, env={"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(cwd)})


def test_the_wheel_holds_newswatch_its_data_and_compiled_nlp_and_no_generic_top_level_names(installed):
    probe = ("import json, newswatch.pipelines.nlp.tagging as t, newswatch.pipelines.settings as s, importlib.util; "
             "print(json.dumps({'tagging': t.__file__, 'repo': str(s.REPO_DIR), "
             "'schemas': (s.REPO_DIR / 'schemas' / 'news_item.schema.json').is_file(), "
             "'templates': sorted(p.name for p in (s.REPO_DIR / 'schemas' / 'index').glob('*.json')), "
             "'top_level': [n for n in ('pipelines', 'connectors', 'api') if importlib.util.find_spec(n)]}))")
    found = json.loads(_outside(installed, "python", "-c", probe).stdout)
    assert str(REPO_DIR) not in found["tagging"] and "site-packages/newswatch" in found["repo"]
    assert found["tagging"].endswith(".so")  # built by the build backend, not taken from var/accel
    assert found["schemas"] and "events.template.json" in found["templates"]
    assert found["top_level"] == []


def test_the_installed_command_tags_and_normalizes(installed):
    tagged = _outside(installed, "newswatch", "tag", "--json", stdin=ARTICLE)
    assert tagged.returncode == 0, tagged.stderr
    result = json.loads(tagged.stdout)
    assert [e["type"] for e in result["events"]] == ["offensive"]
    normalized = _outside(installed, "newswatch", "normalize", stdin="قصفت الطائرات مواقع في إدلب")
    assert normalized.returncode == 0 and "إدلب" in normalized.stdout


def test_the_installed_pipeline_streams_from_kafka_to_the_search_engine(installed, settings, tmp_path):
    prepare(settings)
    prism = settings.pipeline.prism_binary  # built by setup.sh in the checkout; an install points at it
    proc = PipelineProcess(settings, tmp_path / "pipeline.log", command=[str(installed / "newswatch"), "run"],
                           cwd=installed.parents[1],
                           env={"NEWSWATCH_PIPELINE__PRISM_BINARY": str(prism), "HOME": str(installed.parents[1]),
                                "PATH": f"{installed}:/usr/bin:/bin"}).start()
    try:
        kafka.produce(settings.kafka, [news_item("wheel-1", ARTICLE)])
        backend = SearchBackend(settings.search)
        wait_for(lambda: backend.get(settings.search.articles_index, "item-wheel-1"), 240, "the article indexed", proc)
        backend.refresh(settings.search.events_index)
        assert backend.count(settings.search.events_index) == 1
    finally:
        proc.kill()

