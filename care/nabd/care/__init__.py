"""Care operations: wards and beds, admissions, devices and who wears them (docs/care.md).

One set of plain functions used by the ``nabd ward|patient|device`` commands now and by the
nurse station later: pure validation (:mod:`nabd.care.values`) in front of a thin psycopg shell.
Each operation is one transaction, is audited with who did it, and is idempotent where a retry
is likely (a repeated ``device add`` with the same fields changes nothing). Refusals are
:class:`nabd.care.errors.CareError` with a message meant for the person at the keyboard.
"""
