"""Optional compiled copies of the hot NLP modules, built from these same .py files.

The tagger's inner loops are interpreter-bound: compiling the unchanged Python source with
Cython removes part of the interpreter overhead (measured in benchmarks/tagging_throughput.py).
One module, token_table, has a twin written for C (token_table.pyx) with the same API and
answers; it is compiled from that twin.
In a checkout, setup.sh calls `build()` to compile them into var/accel/ with a stamp of the
sources they came from (a wheel carries them as extension modules instead: setup.py). At import, `newswatch.pipelines.nlp` uses them only when that stamp matches the
current sources, so an edited .py file is never shadowed by a stale build; otherwise, or when
NEWSWATCH_PURE_PYTHON=1 is set, the .py files run as they are. Behaviour is the same either way
(tests/unit/test_accel.py compares the two).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

MODULES = ("offsets", "tokens", "normalize", "token_table", "sentence_picker", "tagging", "arguments")
SOURCE_DIR = Path(__file__).resolve().parent
ACCEL_DIR = SOURCE_DIR.parents[1] / "var" / "accel" / "pipelines" / "nlp"
STAMP_NAME = "sources.json"
PURE_ENV = "NEWSWATCH_PURE_PYTHON"


def _sources(source_dir: Path) -> list[Path]:
    """Each module's .py file, and its compiled twin (.pyx, written for C) when it has one."""
    return [path for m in MODULES for path in (source_dir / f"{m}.py", source_dir / f"{m}.pyx")
            if path.suffix == ".py" or path.exists()]


def source_digests(source_dir: Path = SOURCE_DIR) -> dict[str, str]:
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in _sources(source_dir)}


def compiled_dir_if_current(accel_dir: Path = ACCEL_DIR, source_dir: Path = SOURCE_DIR) -> Path | None:
    """The directory of compiled modules when they were built from the current sources, else None."""
    if os.environ.get(PURE_ENV, "") not in ("", "0"):
        return None
    try:
        stamp = json.loads((accel_dir / STAMP_NAME).read_text())
    except (OSError, ValueError):
        return None  # never built (or no compiler on this machine): pure Python
    if stamp != _stamp(source_digests(source_dir)):
        warnings.warn(f"compiled NLP modules in {accel_dir} were built from other sources or another "
                      "Python; using the pure-Python modules. Run ./setup.sh to rebuild them.", stacklevel=2)
        return None
    return accel_dir


def _stamp(digests: dict[str, str]) -> dict:
    """What a build must match to be used: the Python, the import name it was compiled under, the sources."""
    return {"python": _python_tag(), "package": __package__, "sources": digests}


def _python_tag() -> str:
    return f"{sys.implementation.cache_tag}-{sys.platform}"


def build(accel_dir: Path = ACCEL_DIR) -> int:
    """Compile MODULES with Cython into accel_dir. Exit status 0, or 1 with the reason printed."""
    try:
        from Cython.Build import cythonize
        from setuptools import Distribution
        from setuptools.command.build_ext import build_ext
    except ImportError as exc:
        print(f"not compiling the NLP modules ({exc}); the pure-Python ones will run", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        package = Path(tmp) / "newswatch" / "pipelines" / "nlp"
        package.mkdir(parents=True)
        for init in (package.parents[1] / "__init__.py", package.parent / "__init__.py", package / "__init__.py"):
            init.write_text("")
        for source in _sources(SOURCE_DIR):
            shutil.copy(source, package / source.name)
        digests = source_digests(package)
        # a module with a .pyx twin is compiled from the twin; the others from their .py file
        targets = [f"newswatch/pipelines/nlp/{m}.pyx" if (package / f"{m}.pyx").exists()
                   else f"newswatch/pipelines/nlp/{m}.py" for m in MODULES]
        cwd = os.getcwd()
        os.chdir(tmp)  # cythonize names modules after their path: newswatch/pipelines/nlp/x.py -> newswatch.pipelines.nlp.x
        try:
            extensions = cythonize(targets, language_level=3, quiet=True)
            dist = Distribution({"ext_modules": extensions})
            command = build_ext(dist)
            command.inplace = True
            command.ensure_finalized()
            command.run()
        except Exception as exc:  # a missing compiler or headers: say so, keep pure Python
            print(f"compiling the NLP modules failed ({exc}); the pure-Python ones will run", file=sys.stderr)
            return 1
        finally:
            os.chdir(cwd)
        if accel_dir.exists():
            shutil.rmtree(accel_dir)
        accel_dir.mkdir(parents=True)
        for built in package.glob("*.so"):
            shutil.copy(built, accel_dir / built.name)
        (accel_dir / STAMP_NAME).write_text(json.dumps(_stamp(digests)))
    print(f"compiled {', '.join(MODULES)} into {accel_dir}")
    return 0

