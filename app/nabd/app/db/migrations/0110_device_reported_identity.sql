-- What a device says it is (issue 20): the Device Information strings its gateway reads at each
-- connection (GatewayStatus devices[].information, docs/contract.md), written by ingest, next to
-- what it was registered as (`model`, `serial`, `manufacturer`: `nabd device add`). When the
-- device reports another manufacturer, model or serial than its registration (a swapped device,
-- a mistyped registration), ingest writes why in `identity_mismatch` (NULL when they agree) and
-- since when in `identity_mismatch_since`; `nabd device show` warns and `nabd device list`
-- flags it (docs/care.md, "A device that is not what it was registered as").
ALTER TABLE device
    ADD COLUMN reported_manufacturer text,
    ADD COLUMN reported_model text,
    ADD COLUMN reported_serial text,
    ADD COLUMN reported_firmware text,
    ADD COLUMN reported_at timestamptz,
    ADD COLUMN identity_mismatch text,
    ADD COLUMN identity_mismatch_since timestamptz;

GRANT UPDATE (reported_manufacturer, reported_model, reported_serial, reported_firmware,
              reported_at, identity_mismatch, identity_mismatch_since)
    ON device TO nabd_ingest;
