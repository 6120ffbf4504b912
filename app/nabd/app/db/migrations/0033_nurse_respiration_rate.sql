-- A nurse's counted respiratory rate counts for NEWS2 (issue 20 item 2).
-- (Numbered after 0030, which creates nurse_entry; 0012 would run before it.)
--
-- Respiratory rate is the NEWS2 parameter that most often signals deterioration first (RCP NEWS2,
-- 2017), and most wards have no device that measures it: the nurse counts breaths for a full
-- minute at the round. `nurse_entry` (0030) held only consciousness and oxygen; it now also takes
-- `respiration_rate`, a whole number of breaths per minute from 0 to 150 (the catalogue's range
-- for the metric, nabd.contract.catalogue), valid until `valid_until` like the other entries and
-- with the nurse's name in `entered_by`. The analytics service scores it while valid and when it is
-- the freshest respiratory rate (a device's newer value wins).

ALTER TABLE nurse_entry DROP CONSTRAINT nurse_entry_parameter_check;
ALTER TABLE nurse_entry
    ADD CONSTRAINT nurse_entry_parameter_check
        CHECK (parameter IN ('consciousness', 'supplemental_oxygen', 'respiration_rate')),
    ADD CONSTRAINT nurse_entry_respiration_rate_check
        CHECK (parameter <> 'respiration_rate'
               OR value ~ '^(0|[1-9][0-9]?|1[0-4][0-9]|150)$');
