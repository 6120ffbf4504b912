"""nabd.mqtt: the one construction of Nabd's MQTT clients (paho-mqtt 2.x, MQTT v5, TLS).

See :mod:`nabd.mqtt.client`. The contract (``nabd.contract``) stays pydantic + stdlib; paho lives
here, a layer above it, where every component that talks to the broker may import it.
"""
