"""Durations as users write them on the command line: 90s, 10m, 2h, 1d, 1w (a bare number is seconds)."""
from __future__ import annotations

import re

DURATION = re.compile(r"^\s*(\d+)\s*([smhdw]?)\s*$")
SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str) -> int:
    """'10m' -> 600 seconds."""
    match = DURATION.match(text.lower())
    if not match:
        raise ValueError(f"{text!r} is not a duration: write e.g. 90s, 10m, 2h or 1d")
    return int(match.group(1)) * SECONDS[match.group(2)]


def has_unit(text: str) -> bool:
    match = DURATION.match(text.lower())
    return bool(match and match.group(2))
