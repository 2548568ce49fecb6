"""The rollups reports read: counts by measure, period and group, and each referral's facts."""

from datetime import date, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import BigInteger, Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from triage.db import Base


class ReportCount(Base):
    """One rollup cell: how many `measure` counted for (`key`, `subkey`) in one period.

    Every count is kept three times: by day (`period` "d"), by month ("m", `period_start` the
    first of the month) and by quarter ("q", the first day of the quarter), so a report over
    a year of whole quarters reads four rows per group and cell, and only the ragged ends of
    a range read months and days.
    """

    __tablename__ = "report_counts"

    measure: Mapped[str] = mapped_column(String(60), primary_key=True)
    period: Mapped[str] = mapped_column(String(1), primary_key=True)
    period_start: Mapped[date] = mapped_column(Date, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    subkey: Mapped[str] = mapped_column(String(80), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger)


class ReportCase(Base):
    """A referral's facts as last folded into the rollups, and the version they were read at."""

    __tablename__ = "report_cases"

    referral_id: Mapped[UUID] = mapped_column(ForeignKey("referrals.id"), primary_key=True)
    version: Mapped[int]
    facts: Mapped[dict[str, Any]]
    folded_at: Mapped[datetime]


class ReportFold(Base):
    """When the rollups were last brought up to date: the start of the last fold pass that
    left nothing pending (one row). A report read from a replica is as of this time."""

    __tablename__ = "report_folds"

    id: Mapped[int] = mapped_column(primary_key=True)
    as_of: Mapped[datetime]


class ReportGeneration(Base):
    """A random token written, in the same transaction, by whatever changes the rollups
    (one row): an answer computed from them holds while the token it was computed at is
    still the one stored (the conversion report's cache). Random, not a counter, so that a
    change rolled back can never hand its token to another."""

    __tablename__ = "report_generations"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(32))
