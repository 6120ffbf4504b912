"""nabd.simulators: virtual patients, scenarios with ground truth, and replays of recordings.

The physiological core (``patient``, ``scenarios``, ``labels``, ``replay``, ``ward``) is pure
NumPy; the BLE and MQTT shells build on it. See docs/simulators.md.
"""
