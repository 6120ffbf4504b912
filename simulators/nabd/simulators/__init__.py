"""nabd.simulators: virtual patients, scenarios with ground truth, and replays of recordings.

The physiological core (``patient``, ``scenarios``, ``labels``, ``replay``, ``ward``) is pure
NumPy; two shells build on it: virtual BLE devices (``ble``, bumble GATT peripherals) and the MQTT
load generator (``load``). ``export`` writes simulated wards as files. See docs/simulators.md.
"""
