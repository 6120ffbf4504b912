-- Least privilege: each component gets exactly what its job needs.
--   ingest:      reads the registry, writes observations, batches, dead letters, device/gateway state
--   analytics:   reads observations and the registry, writes alerts and audit entries
--   dashboards:  reads what the dashboards show, writes nothing, never sees identities or payloads
--   clinical:    the nurses' tools: acknowledge alerts (audited), read identities

GRANT SELECT ON ward, patient, gateway, device, device_assignment, metric TO nabd_ingest;
GRANT INSERT ON observation, ingested_batch, dead_letter TO nabd_ingest;
GRANT SELECT ON ingested_batch TO nabd_ingest;
GRANT SELECT, INSERT, UPDATE ON observation_latest TO nabd_ingest;
GRANT UPDATE (last_status, last_seen_at) ON gateway TO nabd_ingest;
GRANT UPDATE (battery_level, last_seen_at, manufacturer, model, serial, firmware) ON device TO nabd_ingest;

GRANT SELECT ON ward, patient, gateway, device, device_assignment, metric,
                observation, observation_latest, alert TO nabd_analytics;
GRANT INSERT, UPDATE ON alert TO nabd_analytics;
GRANT SELECT, INSERT ON audit_log TO nabd_analytics;
GRANT USAGE ON SEQUENCE audit_log_seq TO nabd_analytics, nabd_clinical;

GRANT SELECT ON ward, patient, gateway, device, device_assignment, metric,
                observation, observation_latest, alert, ingested_batch TO nabd_dashboards;
GRANT SELECT (id, received_at, topic, gateway_id, reason, field) ON dead_letter TO nabd_dashboards;

GRANT SELECT ON ward, patient, device, device_assignment, metric, observation_latest, alert
    TO nabd_clinical;
GRANT UPDATE (state, acknowledged_at, acknowledged_by, updated_at) ON alert TO nabd_clinical;
GRANT SELECT, INSERT ON audit_log TO nabd_clinical;
GRANT USAGE ON SCHEMA identity TO nabd_clinical;
GRANT SELECT ON identity.patient_identity TO nabd_clinical;
