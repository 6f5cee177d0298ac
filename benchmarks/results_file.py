"""Writing a benchmark's result and comparing it with the stored baseline, in the same run."""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def save_and_compare(name: str, result: dict, save_baseline: bool, compare: Callable[[dict, dict], str]) -> None:
    """Print the result, write results/<name>-latest.json, and either store it as the baseline
    (first run, or --save-baseline) or print compare(result, baseline)."""
    RESULTS.mkdir(exist_ok=True)
    text = json.dumps(result, indent=2)
    (RESULTS / f"{name}-latest.json").write_text(text)
    print(text)
    baseline = RESULTS / f"{name}-baseline.json"
    if save_baseline or not baseline.exists():
        baseline.write_text(text)
        print("saved as baseline")
    else:
        print(compare(result, json.loads(baseline.read_text())))
