"""Which TimescaleDB features a server really has: detect, don't assume.

Debian's TimescaleDB (and so the local stack) is the Apache-2 build: hypertables, ``time_bucket``
and ``drop_chunks``, but no compression, continuous aggregates or background jobs, which are
under the Timescale License. A hospital's server may have either. So Nabd asks the server, by
*trying* each feature inside a transaction that is always rolled back, and uses a feature only
when the answer is yes. A server whose ``timescaledb.license`` is ``apache`` has said so already:
its answer is taken without trying (each failed try writes an ERROR into the server's log).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

import psycopg
from psycopg import sql
from pydantic import BaseModel, ConfigDict

from nabd.app.stack.errors import TimescaleDBMissingError


class TimescaleFeatures(BaseModel):
    """What one database's TimescaleDB can do, as found by trying."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    version: str
    license: str | None
    """``timescaledb.license``: ``apache`` or ``timescale`` (``None`` if the server hides it)."""
    compression: bool
    continuous_aggregates: bool
    background_jobs: bool


_Conn = psycopg.Connection[tuple[object, ...]]


def _works(conn: _Conn, statements: Sequence[sql.Composed]) -> bool:
    try:
        with conn.transaction():  # a savepoint: a failure undoes only this probe
            for statement in statements:
                conn.execute(statement)
    except psycopg.Error:
        return False
    return True


def _try_features(conn: _Conn) -> tuple[bool, bool, bool]:
    """(compression, continuous aggregates, background jobs), by trying each on a scratch
    hypertable in a scratch schema, inside a transaction that is always rolled back."""
    schema = sql.Identifier(f"nabd_probe_{secrets.token_hex(4)}")
    table = sql.SQL("{}.t").format(schema)
    with conn.transaction(force_rollback=True):
        conn.execute("SET LOCAL client_min_messages = error")
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(schema))
        conn.execute(
            sql.SQL("CREATE TABLE {} (time timestamptz NOT NULL, v double precision)").format(table)
        )
        conn.execute(
            sql.SQL("SELECT create_hypertable({}, 'time')").format(
                sql.Literal(table.as_string(conn))
            )
        )
        compression = _works(
            conn, [sql.SQL("ALTER TABLE {} SET (timescaledb.compress)").format(table)]
        )
        aggregates = _works(
            conn,
            [
                sql.SQL(
                    "CREATE MATERIALIZED VIEW {}.c WITH (timescaledb.continuous) AS"
                    " SELECT time_bucket('1 hour', time) AS bucket, avg(v) FROM {}"
                    " GROUP BY 1 WITH NO DATA"
                ).format(schema, table)
            ],
        )
        jobs = _works(
            conn,
            [
                sql.SQL(
                    "CREATE PROCEDURE {}.p(job_id int, config jsonb)"
                    " LANGUAGE plpgsql AS $$ BEGIN END $$"
                ).format(schema),
                sql.SQL("SELECT add_job({}, interval '1 hour')").format(
                    sql.Literal(f"{schema.as_string(conn)}.p")
                ),
            ],
        )
    return compression, aggregates, jobs


def timescaledb_features(conninfo: str, *, always_try: bool = False) -> TimescaleFeatures:
    """What TimescaleDB can do in the database at ``conninfo``.

    Trying needs a role that may create a schema there (the database owner can). With
    ``always_try`` the features are tried even when the license already says ``apache``.
    Raises :class:`TimescaleDBMissingError` when the extension is not created in the database.
    """
    with psycopg.connect(conninfo, connect_timeout=5) as conn:
        row = conn.execute(
            "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"
        ).fetchone()
        if row is None:
            raise TimescaleDBMissingError(
                "the timescaledb extension is not created in this database "
                "(CREATE EXTENSION timescaledb, or `nabd stack up` locally)"
            )
        setting = conn.execute("SELECT current_setting('timescaledb.license', true)").fetchone()
        license_ = None if setting is None or setting[0] is None else str(setting[0])
        if license_ == "apache" and not always_try:
            compression = aggregates = jobs = False
        else:
            compression, aggregates, jobs = _try_features(conn)
    return TimescaleFeatures(
        version=str(row[0]),
        license=license_,
        compression=compression,
        continuous_aggregates=aggregates,
        background_jobs=jobs,
    )
