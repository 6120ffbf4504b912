"""HL7 FHIR R4 export of Nabd's data: patients, devices, vitals, NEWS2 scores and alerts.

Pure mapping from database rows to FHIR resources (``mapping``, ``summaries``, ``ids``,
``codes``), the SQL that reads one patient's data (``query``), Bundles (``bundle``), a one-shot
export (``export``) and a read-only HTTP API behind bearer tokens (``api``). Resources are
validated with ``fhir.resources``' R4B models (FHIR 4.3.0), and use only elements that R4 (4.0.1)
defines identically; see docs/fhir.md.
"""
