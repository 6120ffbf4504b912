"""The edge agent (``nabd edge``): BLE health devices -> durable outbox -> MQTT.

Entry points: :class:`nabd.edge.agent.Agent`, :func:`nabd.edge.service.serve`, and the public
GATT API :func:`nabd.edge.gatt.decode`. See ``docs/edge.md``.
"""
