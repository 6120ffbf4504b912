"""The pure retention policy: classes, floors, what a person may type, cutoffs; and the audit
chain check started from the head of rows retention removed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from nabd.app.audit.chain import Anchor, Break, Head, Intact, verify
from nabd.app.privacy.retention import (
    CLASSES,
    MAX_DAYS,
    RetentionError,
    cutoff,
    data_class,
    describe_period,
    parse_days,
)
from tests.security.audit_kit import chain_of

OBS = data_class("observations")


def test_every_class_named_by_the_issue_is_there_once() -> None:
    keys = [c.key for c in CLASSES]
    assert keys == [
        "observations",
        "news2_scores",
        "alerts",
        "nurse_entries",
        "dead_letters",
        "ingest_bookkeeping",
        "audit_log",
        "identity_access",
        "identity",
    ]
    tables = [t.name for c in CLASSES for t in c.tables]
    assert len(tables) == len(set(tables)), "a table in two classes would get two periods"


def test_class_names_are_forgiving_about_case_and_spaces() -> None:
    assert data_class(" Audit_Log ").key == "audit_log"


@pytest.mark.parametrize(
    ("key", "text", "days"),
    [("observations", "30", 30), ("audit_log", "3650", 3650), ("identity", " 90 ", 90)],
)
def test_whole_days_at_or_above_the_floor_are_accepted(key: str, text: str, days: int) -> None:
    assert parse_days(data_class(key), text) == days


def test_forever_is_an_explicit_decision() -> None:
    assert parse_days(OBS, "forever") is None
    assert parse_days(OBS, "FOREVER") is None
    assert describe_period(None, decided=True) == "kept for ever"
    assert describe_period(None, decided=False) == "not set: kept for ever"
    assert describe_period(30, decided=True) == "30 days"


@pytest.mark.parametrize(
    ("key", "text", "says"),
    [
        ("observations", "ten", "is not a number of days: give whole days"),
        ("observations", "-5", "is not a number of days"),
        ("observations", "1.5", "is not a number of days"),
        ("observations", "", "is not a number of days"),
        ("observations", "0", "cannot be kept less than 30 days"),
        ("observations", "3", "cannot be kept less than 30 days"),
        ("audit_log", "364", "cannot be kept less than 365 days"),
        ("dead_letters", "6", "cannot be kept less than 7 days"),
        ("observations", str(MAX_DAYS + 1), "say forever instead"),
    ],
)
def test_nonsense_is_refused_in_one_sentence(key: str, text: str, says: str) -> None:
    with pytest.raises(RetentionError, match=says) as caught:
        parse_days(data_class(key), text)
    assert "\n" not in str(caught.value)


def test_an_unknown_class_lists_the_classes() -> None:
    with pytest.raises(RetentionError, match="no data class 'vitals': one of observations, "):
        data_class("vitals")


def test_every_floor_is_explained_and_the_audit_log_keeps_a_year() -> None:
    assert all(c.floor_days >= 7 and c.floor_reason for c in CLASSES)
    assert data_class("audit_log").floor_days == 365


def test_the_cutoff_is_now_minus_the_period_and_needs_a_zone() -> None:
    now = datetime(2026, 12, 6, 12, tzinfo=UTC)
    assert cutoff(now, 30) == now - timedelta(days=30)
    with pytest.raises(ValueError, match="timezone"):
        cutoff(now.replace(tzinfo=None), 30)


def test_every_hypertable_condition_is_time_before_the_cutoff() -> None:
    # drop_chunks removes whole chunks before the cutoff: the condition must say the same thing.
    for table in (t for c in CLASSES for t in c.tables if t.hypertable):
        assert table.expired == "time < %(cutoff)s"


# -- the chain after retention removed its first rows -------------------------------------


def _cut(n: int, through: int) -> tuple[list, Head]:  # type: ignore[type-arg]
    rows = chain_of(n)
    gone = rows[:through]
    return rows[through:], Head(gone[-1].seq, gone[-1].hash, len(gone))


def test_the_kept_rows_verify_from_the_head_of_the_removed_ones() -> None:
    kept, head = _cut(10, 4)
    result = verify(kept, start=head)
    assert isinstance(result, Intact)
    assert (result.rows, result.kept, result.head_seq, result.start) == (10, 6, 10, head)
    assert isinstance(verify(kept), Break), "without the head, the first kept row does not link"


def test_a_row_removed_after_the_cut_still_breaks_the_chain() -> None:
    kept, head = _cut(10, 4)
    del kept[1]
    result = verify(kept, start=head)
    assert isinstance(result, Break)
    assert result.seq == 7


def test_a_wrong_head_breaks_at_the_first_kept_row() -> None:
    kept, head = _cut(10, 4)
    result = verify(kept, start=Head(head.seq, b"\x00" * 32, head.rows))
    assert isinstance(result, Break)
    assert (result.seq, result.what) == (5, "prev_hash does not link to the previous row")


def test_anchors_of_removed_rows_retire_and_later_ones_still_count_from_the_first_row() -> None:
    rows = chain_of(10)
    anchors = [Anchor(Head(r.seq, r.hash, r.seq), f"checkpoint {r.seq}") for r in rows[1::2]]
    kept, head = _cut(10, 4)
    result = verify(kept, anchors, start=head)
    assert isinstance(result, Intact)
    assert result.retired == 2  # seq 2 and 4: removed; 6, 8 and 10 checked
    lying = Head(head.seq, head.hash, head.rows - 2)  # claims fewer rows were removed
    contradicted = verify(kept, anchors, start=lying)
    assert isinstance(contradicted, Break)
    assert "rewritten before retention's cut" in contradicted.what
