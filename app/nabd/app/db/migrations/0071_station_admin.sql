-- The nurse station's admin pages (docs/station.md): an admin admits, transfers and discharges,
-- registers and assigns devices, through the care operations (`nabd.care`), which need the
-- `nabd_care` role's privileges (0060). The station's login gets them here.
--
-- Row-level security is unaffected for what a user reads: pages read under `SET LOCAL ROLE` of
-- the user's own role, which is not a member of `nabd_care`, so her wards still filter every row.
-- Only after the station has proved, under her role, that the ward, patient or device is one of
-- hers, and that her role is `admin`, does it write as its own login, audited with her name.
GRANT nabd_care TO nabd_station;
