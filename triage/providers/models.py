from datetime import datetime
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from triage.db import Base


class Provider(Base):
    """A support service in the directory: a CORE provider or another destination."""

    __tablename__ = "providers"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    services: Mapped[list[str]]
    areas: Mapped[list[str]]
    min_age: Mapped[int | None]
    max_age: Mapped[int | None]
    care_leaver_max_age: Mapped[int | None]
    crime_types: Mapped[list[str]]
    hate_strands: Mapped[list[str]]
    contact_channels: Mapped[list[str]]
    # Where offers are announced (a team mailbox; never a victim's detail in the message).
    notify_address: Mapped[str | None] = mapped_column(String(200))
    respond_by_hours: Mapped[int]
    accepting: Mapped[bool]
    capacity: Mapped[int | None]
    funding: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
