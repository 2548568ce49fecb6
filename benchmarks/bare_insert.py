"""The baseline of benchmarks/intake.py: a bare FastAPI app that inserts one row per request.

    BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/db \\
        .venv/bin/python -m uvicorn bare_insert:app --app-dir benchmarks --port 8001

One sync POST handler: FastAPI parses the JSON body (no model), a session per request adds
one row (id, source, external_ref, the body as JSON, a timestamp) and commits, and the answer
is 201 with the id. No authentication, validation, idempotency check or audit: that is what
the real intake endpoint adds on top, and what the benchmark prices. The engine uses the same
pool sizes as the real app (read from triage.config's defaults) so the two differ only in what each
request does.
"""

import os
import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, status
from sqlalchemy import JSON, DateTime, String, create_engine
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

from triage.config import Settings


class Base(DeclarativeBase):
    pass


class BareReferral(Base):
    __tablename__ = "bench_bare_referrals"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(30))
    external_ref: Mapped[str | None] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON().with_variant(JSONB, "postgresql"))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


_pool = Settings()  # the real app's pool defaults, so both apps pool alike
engine = create_engine(
    os.environ["BENCH_DATABASE_URL"],
    pool_size=_pool.db_pool_size,
    max_overflow=_pool.db_max_overflow,
    pool_recycle=3600,
)
Base.metadata.create_all(engine)
Session = sessionmaker(engine, expire_on_commit=False)

app = FastAPI(title="bare insert baseline")


@app.post("/api/referrals", status_code=status.HTTP_201_CREATED)
def create(body: dict[str, Any]) -> dict[str, str]:
    row = BareReferral(
        id=uuid.uuid4(),
        source=str(body.get("source", "")),
        external_ref=body.get("external_ref"),
        payload=body,
        received_at=datetime.now(UTC),
    )
    with Session() as session:
        session.add(row)
        session.commit()
    return {"id": str(row.id)}
