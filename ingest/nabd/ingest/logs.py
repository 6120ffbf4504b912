"""Structured logs: one JSON object per line, with the ``extra`` fields of each call.

Log aggregators (journald, Loki, Elasticsearch) index fields, not sentences: "flush committed"
with ``rows=5120 seconds=0.041`` can be graphed and alerted on; a formatted sentence cannot.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Final

__all__ = ["JsonFormatter"]

_STANDARD: Final = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime"}
)


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "msg", ...extra}``; an exception goes in ``"exc"``."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)
