"""``nabd demo``: a simulated ward end to end on one machine, with a nurse's view in the terminal.

The composition of every real component: the local stack, virtual BLE devices (bumble), one
edge agent per gateway (bleak over the virtual link), ingest and analytics, each a subprocess
with its own least-privilege credentials. See docs/demo.md.
"""
