"""nabd.ingest: the service that turns gateways' MQTT batches into TimescaleDB rows.

Pure core (:mod:`~nabd.ingest.validate`, :mod:`~nabd.ingest.staging`, :mod:`~nabd.ingest.inbox`)
inside a thin shell (:mod:`~nabd.ingest.consumer` for MQTT, :mod:`~nabd.ingest.writer` for the
database), composed by :mod:`~nabd.ingest.service`. See ``docs/ingest.md``.
"""
