-- What each gateway last heard advertising but is not told to read (GatewayStatus.nearby,
-- issue 18 item 6): what an operator picks from to register a device (`nabd gateway seen`).
-- Replaced whole by each `online` status, like gateway_device_state (0008). No foreign key to
-- `device`: these are, by definition, devices nobody has assigned to this gateway. No advertised
-- name: the gateway does not send it (free text that may carry a person's name).
CREATE TABLE gateway_nearby (
    gateway_id  text NOT NULL REFERENCES gateway (id),
    address     text NOT NULL CHECK (address ~ '^[0-9A-F]{2}(:[0-9A-F]{2}){5}$'),
    services    text[] NOT NULL DEFAULT '{}',
    rssi_dbm    smallint CHECK (rssi_dbm BETWEEN -127 AND 20),
    heard_at    timestamptz NOT NULL,
    status_at   timestamptz NOT NULL,  -- the `at` of the status that reported it
    PRIMARY KEY (gateway_id, address)
);

GRANT SELECT, INSERT, DELETE ON gateway_nearby TO nabd_ingest;
GRANT SELECT ON gateway_nearby TO nabd_care, nabd_dashboards;
