"""Fixtures of the security tests, and the Hypothesis profiles of the fuzzers.

Profiles: ``ci`` (the default) keeps the whole suite within minutes; ``long`` multiplies every
fuzzer's example count by 10 (100k+ generated inputs in total): ``HYPOTHESIS_PROFILE=long
pytest tests/security tests/gatt``. Only a profile named in the environment is loaded, so an
ordinary run leaves Hypothesis' defaults of the other test folders alone.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from hypothesis import HealthCheck, settings

# --import-mode=importlib puts no test folder on sys.path: make `tests.*` kits importable.
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

settings.register_profile("ci", deadline=None)
settings.register_profile(
    "long", deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=1000
)
if "HYPOTHESIS_PROFILE" in os.environ:
    settings.load_profile(os.environ["HYPOTHESIS_PROFILE"])
