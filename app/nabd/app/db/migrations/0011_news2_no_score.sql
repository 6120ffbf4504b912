-- NEWS2 never pretends (issue 20): a tick at which no parameter of a patient is present stores
-- a row with NO total and NO risk (NULL), not total 0 / risk 'low'. RCP NEWS2 (2017) Chart 3
-- gives 'low' to an aggregate of 0 from measured, normal values; nothing measured is not that.
-- The row is still written, so "the newest score" of a patient whose every value went missing
-- or stale is "none", never an older score read as current.
--
-- The Chart 1 arithmetic CHECK of 0010 still holds for every row with a total (a CHECK on NULL
-- passes, so the new CHECKs below say exactly when NULL is allowed): total and risk are NULL
-- together, and precisely when all seven sub-scores are -1 (missing). Rows written before this
-- migration with nothing present (total 0, risk 'low') are corrected to no score first.

ALTER TABLE news2_score
    ALTER COLUMN total DROP NOT NULL,
    ALTER COLUMN risk DROP NOT NULL;

UPDATE news2_score SET total = NULL, risk = NULL
WHERE greatest(respiration_rate, spo2, air_or_oxygen, systolic_bp, heart_rate, consciousness,
               temperature) = -1;

ALTER TABLE news2_score
    ADD CONSTRAINT news2_score_no_parameter_no_score CHECK (
        (total IS NULL) = (greatest(respiration_rate, spo2, air_or_oxygen, systolic_bp,
                                    heart_rate, consciousness, temperature) = -1)),
    ADD CONSTRAINT news2_score_no_total_no_risk CHECK ((risk IS NULL) = (total IS NULL));
