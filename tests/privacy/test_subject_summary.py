"""The subject-access summary page without a database: every phrase in the three languages,
and whatever a name holds is shown as text, never as markup."""

from __future__ import annotations

import html
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from nabd.interop.fhir.records import IdentityRecord, PatientRecord
from nabd.interop.fhir.subject_access import SubjectTally
from nabd.interop.fhir.subject_summary import LANGUAGES, PHRASES, AccessLine, render

NOW = datetime(2026, 12, 6, 11, 0, tzinfo=UTC)


def _tally(given_name: str, family: str) -> SubjectTally:
    person = IdentityRecord(mrn="M-1", given_name=given_name, family_name=family, birth_date=None)
    return SubjectTally(patient=PatientRecord(id="p-1", ward_id="w1", admitted_at=NOW,
                                              discharged_at=None, identity=person))  # fmt: skip


def test_every_phrase_exists_in_every_language() -> None:
    assert all(set(phrase) == set(LANGUAGES) for phrase in PHRASES.values())


NAMES = st.text(st.characters(exclude_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1,
                max_size=40).map(str.strip).filter(bool)  # fmt: skip
"""Names as admission accepts them: no control characters, no surrounding blanks."""


@given(NAMES, st.sampled_from(LANGUAGES))
def test_a_name_is_text_not_markup(family: str, lang: str) -> None:
    access = AccessLine(NOW, "station", f"<b>{family}</b>", "ward board")
    page = render(_tally("<script>x</script>", family), [access], lang=lang, now=NOW)
    assert html.escape(f"<script>x</script> {family}") in page
    assert "<script>" not in page
    assert "<b>" not in page
    assert f'dir="{"rtl" if lang == "ar" else "ltr"}"' in page
