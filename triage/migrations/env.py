from alembic import context

import triage.models  # noqa: F401  (fills the metadata)
from triage.db import Base, is_sqlite, make_engine

config = context.config
url = str(config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url"))


def run() -> None:
    engine = make_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=is_sqlite(url),
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run()
