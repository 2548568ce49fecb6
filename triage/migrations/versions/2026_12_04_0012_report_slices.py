"""report slices: rollup keys long enough for `area|crime_type#right@edition`, and the
rollups emptied so the next fold counts every referral again with the new slice measures

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("report_counts") as batch:
        batch.alter_column(
            "key", existing_type=sa.String(length=80), type_=sa.String(length=200),
            existing_nullable=False,
        )  # fmt: skip
    # Empty, as `triage report rebuild` does: the next report (or the fold job) folds every
    # referral again from its audit events, slices included.
    op.execute("DELETE FROM report_counts")
    op.execute("DELETE FROM report_cases")
    op.execute("UPDATE referrals SET reported_version = 0")


def downgrade() -> None:
    op.execute("DELETE FROM report_counts")
    op.execute("DELETE FROM report_cases")
    op.execute("UPDATE referrals SET reported_version = 0")
    with op.batch_alter_table("report_counts") as batch:
        batch.alter_column(
            "key", existing_type=sa.String(length=200), type_=sa.String(length=80),
            existing_nullable=False,
        )  # fmt: skip
