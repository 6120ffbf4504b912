-- The FHIR export reads the values nurses measured (issue 20 item 2): a nurse's counted
-- respiratory rate, spot SpO2, pulse, blood pressure and temperature (`nurse_entry`, 0033/0034)
-- become Observations with the nurse as performer, beside the devices' readings
-- (nabd.interop.fhir, docs/fhir.md). Only those parameters and columns: the rest of the table
-- (consciousness, oxygen, who entered it when) is not exported yet.

GRANT SELECT (id, patient_id, parameter, value, observed_at, entered_by) ON nurse_entry
    TO nabd_fhir;

-- A ward-scoped caller reads them through its schema's view, filtered to its wards (0021).
CREATE VIEW nabd_fhir_ward.nurse_entry WITH (security_barrier) AS
    SELECT id, patient_id, parameter, value, observed_at, entered_by FROM public.nurse_entry
    WHERE parameter IN ('respiration_rate', 'spo2', 'pulse_rate', 'systolic_bp', 'diastolic_bp',
                        'body_temperature')
      AND patient_id IN (SELECT p.id FROM public.patient p
                         WHERE p.ward_id = ANY (nabd_fhir_wards()));
GRANT SELECT ON nabd_fhir_ward.nurse_entry TO nabd_fhir_ward;
