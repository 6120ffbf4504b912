"""How many examples each fuzzer generates: its CI count, times 10 under the ``long`` profile.

The profile is chosen with ``HYPOTHESIS_PROFILE=long`` (``tests/security/conftest.py``
registers ``ci`` and ``long`` and loads the one named). Each fuzzer passes ``examples(n)`` as
its ``max_examples``, so one variable scales all of them.
"""

from __future__ import annotations

import os
from typing import Final

PROFILE: Final = os.environ.get("HYPOTHESIS_PROFILE", "ci")
SCALE: Final = 10 if PROFILE == "long" else 1


def examples(ci: int) -> int:
    """The example count of a fuzzer whose CI budget is ``ci``."""
    return ci * SCALE
