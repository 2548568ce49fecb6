"""`write_behind`: a batch's rows reach the database together at the block's end, in the
order first queued, and nothing at all when the block fails."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from triage.audit import service as audit
from triage.audit.models import AuditEvent
from triage.caller import SYSTEM
from triage.db import write_behind, writing_behind

NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


def lines(session) -> list[str]:
    return list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def test_queued_rows_are_written_at_the_end_of_the_block_in_their_order(session_factory) -> None:
    with session_factory() as session, session.begin():
        with write_behind(session):
            assert writing_behind(session)
            for number in range(3):
                audit.record(session, caller=SYSTEM, action=f"step_{number}", now=NOW)
            assert lines(session) == []
        assert not writing_behind(session)
        assert lines(session) == ["step_0", "step_1", "step_2"]
    with session_factory() as session:
        assert lines(session) == ["step_0", "step_1", "step_2"]


def test_outside_a_block_a_row_is_written_at_once(session_factory) -> None:
    with session_factory() as session, session.begin():
        audit.record(session, caller=SYSTEM, action="at_once", now=NOW)
        assert lines(session) == ["at_once"]


def test_a_block_that_fails_writes_nothing_and_leaves_the_session_as_it_was(
    session_factory,
) -> None:
    with (
        pytest.raises(ZeroDivisionError),
        session_factory() as session,
        session.begin(),
        write_behind(session),
    ):
        audit.record(session, caller=SYSTEM, action="lost", now=NOW)
        1 / 0  # noqa: B018
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(AuditEvent)) == 0
        assert not writing_behind(session)


def test_blocks_do_not_nest(session_factory) -> None:
    with (
        session_factory() as session,
        session.begin(),
        write_behind(session),
        pytest.raises(RuntimeError, match="nest"),
        write_behind(session),
    ):
        pass
