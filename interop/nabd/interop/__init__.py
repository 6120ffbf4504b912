"""Interoperability with other health systems: HL7 FHIR R4 export and a read-only API (``fhir``)."""
