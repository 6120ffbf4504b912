-- Dead letters of gateway status messages were written without a category until now (issue 17),
-- so `nabd ingest dead-letters list --reason ...` could not find them. Ingest now writes one;
-- this gives the old rows the category ingest would have given them, told apart by what
-- nabd.ingest.gateway_status wrote: a gateway mismatch names the gateway_id field and says
-- "status of gateway ..."; a database refusal starts with its SQLSTATE; anything else the
-- contract refused (payload).
UPDATE dead_letter
SET category = CASE
    WHEN field = 'gateway_id' AND reason LIKE 'status of gateway %' THEN 'gateway_mismatch'
    WHEN field IS NULL AND reason ~ '^[0-9A-Z]{5} ' THEN 'database'
    ELSE 'payload'
END
WHERE category IS NULL AND topic LIKE 'nabd/v1/gw/%/status';
