"""How every newswatch process (pipeline, supervisor, delivery worker, API) formats its log lines."""
from __future__ import annotations

import logging

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def configure_logging(level: int = logging.INFO) -> None:
    """Timestamped lines on stderr at `level`. `force`, because importing Beam logs a warning
    through the root logger, which configures it before the process does."""
    logging.basicConfig(level=level, format=FORMAT, force=True)
