"""The compiled NLP modules: used only when built from the current sources, and same results."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from newswatch.pipelines.nlp import _accel
from newswatch.pipelines.nlp import tagging

ROOT = Path(__file__).resolve().parents[2]
SENTENCES = [
    "شنت الطائرات الحربية غارات على مواقع المسلحين شمال حلب وقتل 12 مسلحا",
    "أرسل الجيش تعزيزات عسكرية إلى الحدود الشمالية لمسافة45 كلم",
    "The army sent reinforcements and 40 tanks to the border near Idlib.",
    "The two sides agreed to extend the ceasefire in Yemen for another month.",
    "The minister warned that any attack would be answered.",
]


def _fake_sources(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    for module in _accel.MODULES:
        (src / f"{module}.py").write_text(f"# {module}\n")
    return src


def _stamp(accel: Path, sources: dict) -> None:
    accel.mkdir(exist_ok=True)
    (accel / _accel.STAMP_NAME).write_text(json.dumps(_accel._stamp(sources)))


def test_a_build_from_the_current_sources_is_used(tmp_path, monkeypatch):
    monkeypatch.delenv(_accel.PURE_ENV, raising=False)
    src, accel = _fake_sources(tmp_path), tmp_path / "accel"
    _stamp(accel, _accel.source_digests(src))
    assert _accel.compiled_dir_if_current(accel, src) == accel


def test_a_stale_build_is_ignored_with_a_warning(tmp_path, monkeypatch):
    monkeypatch.delenv(_accel.PURE_ENV, raising=False)
    src, accel = _fake_sources(tmp_path), tmp_path / "accel"
    _stamp(accel, _accel.source_digests(src))
    (src / "tagging.py").write_text("# edited after the build\n")
    with pytest.warns(UserWarning, match="Run ./setup.sh"):
        assert _accel.compiled_dir_if_current(accel, src) is None


def test_no_build_or_the_pure_switch_means_pure_python(tmp_path, monkeypatch):
    src, accel = _fake_sources(tmp_path), tmp_path / "accel"
    assert _accel.compiled_dir_if_current(accel, src) is None
    _stamp(accel, _accel.source_digests(src))
    monkeypatch.setenv(_accel.PURE_ENV, "1")
    assert _accel.compiled_dir_if_current(accel, src) is None


def _results() -> list[dict]:
    return [tagging.tag(s).as_dict() for s in SENTENCES]


def test_compiled_and_pure_python_modules_agree():
    if not tagging.__file__.endswith(".so"):
        pytest.skip("the compiled modules are not built here (no C compiler?); only pure Python runs")
    code = ("import json, sys; from newswatch.pipelines.nlp import tagging; "
            f"print(json.dumps([tagging.tag(s).as_dict() for s in {SENTENCES!r}]))")
    env = {**os.environ, _accel.PURE_ENV: "1"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == json.loads(json.dumps(_results()))
    assert any(r["events"] for r in _results())
