"""The exception every detector raises for input no caller should pass.

One class for the whole scoring core (``nabd.analytics``), so the shell can catch bad input from
any detector in one place. It subclasses ``ValueError`` because the fault is always the value
passed, never the state of the detector; ``parameter`` names the argument. NEWS2's own
``News2InputError`` is a subclass (its message names the score).
"""

from __future__ import annotations

__all__ = ["AnalyticsInputError"]


class AnalyticsInputError(ValueError):
    """An argument that no detector can use (wrong shape, out of range, not finite)."""

    def __init__(self, parameter: str, problem: str) -> None:
        super().__init__(f"{parameter}: {problem}")
        self.parameter = parameter
