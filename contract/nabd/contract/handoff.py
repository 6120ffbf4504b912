"""The database hand-off between ingest and analytics: the one name both sides must agree on.

Ingest records each committed flush in ``observation_commit`` and queues
``NOTIFY nabd_observations, '<seq>'`` in the same transaction (``nabd.ingest.handoff``); the
analytics service listens on the channel and reads the journal from its watermark
(``nabd.analytics.service.source``). Kept here so that neither service imports the other.
"""

from __future__ import annotations

from typing import Final

__all__ = ["CHANNEL"]

CHANNEL: Final = "nabd_observations"
"""``LISTEN nabd_observations``: the payload is the new journal entry's ``seq``."""
