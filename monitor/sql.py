"""Query pieces shared by the modules that read a panel's or a clinic's worth of rows, and by
the write paths that update rows with plain Core statements."""
from collections.abc import Iterable
from datetime import date

from sqlalchemy import Integer, Table, any_, func, insert, literal
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm.util import identity_key
from sqlalchemy.sql import Select

from . import write_version
from .extensions import db


def among(column, ids: Iterable[int] | Select):
    """`column IN ids`. A SELECT of ids stays a subquery. A list is one array parameter on
    PostgreSQL (`= ANY(%s)`): as 500 separate parameters, a panel's ids cost more to render,
    convert and send than the query itself (issue 9's dashboard profile), and each panel size
    would be a different statement to the server. SQLite has no arrays and binds them cheaply."""
    if isinstance(ids, Select):
        return column.in_(ids)
    ids = list(ids)
    if db.session.get_bind().dialect.name == "postgresql":
        return column == any_(literal(ids, ARRAY(Integer)))
    return column.in_(ids)


def date_list(column):
    """An aggregate of a DATE column: one value per group, which dates_of() reads back.

    For a month of a clinic's check-in dates: one row per patient rather than one per check-in
    (2,000 rows, not 60,000), which spares the driver and SQLAlchemy the per-row work that was
    most of the report's cost after a write (issue 9's report profile)."""
    if db.session.get_bind().dialect.name == "postgresql":
        return func.array_agg(column)  # psycopg reads it as a list of dates
    return func.group_concat(column, ",")  # SQLite keeps a date as its ISO text


def dates_of(value: list[date] | str) -> list[date]:
    """The dates of one date_list()."""
    if isinstance(value, str):
        return [date.fromisoformat(text) for text in value.split(",")]
    return value


def insert_rows(table: Table, rows: list[dict]) -> None:
    """INSERT rows that all name the same columns, in this session's transaction, the fastest
    way each database takes many: PostgreSQL's COPY, and elsewhere an executemany.

    For the CSV import's 100,000 check-ins. As pipelined INSERTs PostgreSQL spent about 14 s
    of the import's 30 s budget on them, each row a statement of its own to run; COPY streams
    them into the table in about 2 s, with every constraint and index as for an INSERT
    (issue 9's import profile). sqlite3 runs an executemany in C and gains nothing from more.

    COPY bypasses SQLAlchemy's statement, so this does what it would have done: each value
    goes through its column's type (UTCDateTime's conversion to UTC), and the write is marked
    for the clinic's write version. Python-side column defaults are not applied, so every
    column that has one must be named."""
    if not rows:
        return
    names = list(rows[0])
    unnamed = [c.name for c in table.columns if c.default is not None and c.name not in names]
    if unnamed:  # checked on SQLite too, where an executemany would fill them: one behaviour
        raise ValueError(f"insert_rows into {table.name}: no value for {', '.join(unnamed)}, which have defaults")
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        connection.execute(insert(table), rows)
        return
    dialect = connection.dialect
    processors = [table.columns[name].type.bind_processor(dialect) for name in names]
    statement = f"COPY {table.name} ({', '.join(names)}) FROM STDIN"
    try:
        with connection.connection.driver_connection.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row([value if process is None else process(value)
                                for process, value in zip(processors, (row[name] for name in names))])
    except dialect.loaded_dbapi.Error as error:
        # As SQLAlchemy would have raised it for an INSERT (an IntegrityError for a duplicate).
        raise DBAPIError.instance(statement, None, error, dialect.loaded_dbapi.Error) from error
    write_version.mark_written(connection, table.name)


def reread_if_loaded(model, key) -> None:
    """After a Core UPDATE of one row (a hot path skips the ORM's search of the session for
    loaded copies): a copy this session had loaded reads the row again when next used,
    instead of keeping the old values."""
    loaded = db.session.identity_map.get(identity_key(model, key))
    if loaded is not None:
        db.session.expire(loaded)
