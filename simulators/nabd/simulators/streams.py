"""Independent random streams, one per (seed, patient, purpose).

Every random draw of a simulation comes from a generator keyed by the run's seed, the patient's
id and what the numbers are for. So a patient's series do not depend on who else is on the ward
(a ward can be simulated in chunks of patients with identical results), and adding a scenario
that needs random numbers does not shift the numbers anything else receives: outside its window
the patient is exactly the same. No global NumPy state is touched.
"""

from __future__ import annotations

import hashlib
import operator

import numpy as np

from nabd.simulators.errors import SimulatorError

__all__ = ["check_seed", "stream"]


def check_seed(seed: int) -> int:
    """``seed`` if it is a non-negative integer (not a bool), else SimulatorError."""
    if isinstance(seed, bool):
        raise SimulatorError("seed must be a non-negative integer, got a bool")
    try:
        value = operator.index(seed)
    except TypeError as exc:
        raise SimulatorError(f"seed must be a non-negative integer, got {seed!r}") from exc
    if value < 0:
        raise SimulatorError(f"seed must be a non-negative integer, got {value}")
    return value


def stream(seed: int, patient_id: str, *purpose: str) -> np.random.Generator:
    """A generator for one purpose of one patient, the same on every machine and run."""
    key = "\x1f".join((patient_id, *purpose)).encode()
    digest = hashlib.blake2b(key, digest_size=16).digest()
    words = [int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4)]
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, *words])))
