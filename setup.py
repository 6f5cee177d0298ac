"""Extension modules for the build backend: the NLP hot paths (the modules pipelines/nlp/_accel.py
names) compiled with Cython from their own sources, so that a wheel, and every worker that
installs it, runs them compiled. Each is optional: without a C compiler the wheel keeps the pure
Python modules, which give the same results.

An editable install (./setup.sh) builds none: the checkout compiles them into var/accel/ instead,
where they are used only while they match the sources (pipelines/nlp/_accel.py), so an edited
module is never shadowed by a stale build."""
from __future__ import annotations

import ast
import sys
from pathlib import Path

from setuptools import Extension, setup

NLP = Path("pipelines") / "nlp"


def accelerated_modules() -> tuple[str, ...]:
    """MODULES from _accel.py, read without importing the package (its dependencies are not in
    the build environment)."""
    for node in ast.parse((NLP / "_accel.py").read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "MODULES" for t in node.targets):
            return ast.literal_eval(node.value)
    raise RuntimeError("pipelines/nlp/_accel.py defines no MODULES")


def extensions() -> list[Extension]:
    if "editable_wheel" in sys.argv:
        return []
    try:
        from Cython.Build import cythonize
    except ImportError:
        return []
    modules = []
    for name in accelerated_modules():
        twin = NLP / f"{name}.pyx"  # a module with a .pyx twin is compiled from the twin
        source = twin if twin.exists() else NLP / f"{name}.py"
        modules.append(Extension(f"newswatch.pipelines.nlp.{name}", [str(source)], optional=True))
    # C sources under build/, not next to the modules
    return cythonize(modules, language_level=3, quiet=True, build_dir="build/cython")


setup(ext_modules=extensions())
