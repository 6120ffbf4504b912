-- What each gateway last said about itself and its devices: its retained GatewayStatus on
-- nabd/v1/gw/<gw>/status, recorded by ingest on a path of its own (never in a flush of
-- observations). A status is state, not an event: the newest wins (docs/contract.md).
--
-- Ingest also keeps the registry's own columns from it: gateway.last_status and
-- gateway.last_seen_at (when ingest last received an `online` status that applied, by the
-- database's clock), device.battery_level and device.last_seen_at (the device's last reading by
-- the gateway's clock), which the analytics service and the dashboards already read.

CREATE TABLE gateway_state (
    gateway_id        text PRIMARY KEY REFERENCES gateway (id),
    boot_id           text NOT NULL,
    state             text NOT NULL CHECK (state IN ('online', 'offline')),
    status_at         timestamptz NOT NULL,  -- the newest `at` applied: the order never goes back
    received_at       timestamptz NOT NULL,  -- when ingest applied the latest status (its clock)
    software_version  text,
    outbox_pending    bigint CHECK (outbox_pending >= 0),
    outbox_oldest_at  timestamptz,
    dropped_full      bigint CHECK (dropped_full >= 0),
    dropped_expired   bigint CHECK (dropped_expired >= 0)
);

-- One row per device the gateway reported, as of its latest `online` status. No foreign key to
-- `device`: a gateway may report a device the registry does not know yet (discovery), which is
-- exactly what an operator needs to see.
CREATE TABLE gateway_device_state (
    gateway_id        text NOT NULL REFERENCES gateway (id),
    device_id         text NOT NULL CHECK (device_id ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    state             text NOT NULL
                      CHECK (state IN ('searching', 'connecting', 'connected', 'silent', 'lost')),
    since             timestamptz NOT NULL,
    last_reading_at   timestamptz,
    battery_percent   smallint CHECK (battery_percent BETWEEN 0 AND 100),
    rssi_dbm          smallint CHECK (rssi_dbm BETWEEN -127 AND 20),
    status_at         timestamptz NOT NULL,  -- the `at` of the status that reported it
    PRIMARY KEY (gateway_id, device_id)
);
CREATE INDEX gateway_device_state_device_idx ON gateway_device_state (device_id);

GRANT SELECT, INSERT, UPDATE ON gateway_state TO nabd_ingest;
GRANT SELECT, INSERT, UPDATE, DELETE ON gateway_device_state TO nabd_ingest;
GRANT SELECT ON gateway_state, gateway_device_state TO nabd_dashboards, nabd_analytics;
