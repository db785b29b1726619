"""Multi-row inserts at the driver's speed, for bulk paths (file imports, the REST bulk endpoint).

Rules:
- the rows are bound exactly as SQLAlchemy binds them (each column type's own bind processor: UTC
  datetimes, JSON), so what is stored is what an ORM or Core insert stores;
- a value repeated from the row before (the chunk's one timestamp, a constant actor) is processed
  once, not once per row: SQLAlchemy's generic per-row parameter handling cost more than the
  database's own work on a chunk of thousands of leads;
- one ``executemany`` per call on the caller's connection (its transaction) — on PostgreSQL
  (psycopg) one ``COPY … FROM STDIN`` instead, several times cheaper per row than executemany's
  pipelined statements; a unique-key clash raises SQLAlchemy's ``IntegrityError`` either way, for
  the caller to handle (roll back its savepoint, redo one by one).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Table, insert
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError

_Processor = Callable[[Any], Any] | None


@lru_cache(maxsize=64)
def _statement(table: Table, keys: tuple[str, ...], dialect: Dialect) -> tuple[str, tuple[str, ...], bool]:
    """The compiled INSERT for ``keys``: its SQL, its parameter order, whether it is positional."""
    compiled = insert(table).compile(dialect=dialect, column_keys=list(keys))
    order = tuple(compiled.positiontup or ()) if compiled.positional else keys
    return compiled.string, order, bool(compiled.positional)


def _processors(table: Table, keys: Sequence[str], dialect: Dialect) -> list[_Processor]:
    return [table.c[key].type._cached_bind_processor(dialect) for key in keys]


def insert_rows(connection: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys) into ``table`` with one executemany (module rules)."""
    if not rows:
        return
    dialect = connection.dialect
    sql, order, positional = _statement(table, tuple(rows[0]), dialect)
    processors = _processors(table, order, dialect)
    copying = dialect.name == "postgresql" and dialect.driver == "psycopg"
    # a row's values in parameter order are taken in C (itemgetter); only the columns whose type
    # has a bind processor are touched in Python
    take = itemgetter(*order) if len(order) > 1 else lambda row: (row[order[0]],)
    processed = [(index, process) for index, process in enumerate(processors) if process is not None]
    last_in: list[Any] = [object()] * len(processed)
    last_out: list[Any] = [None] * len(processed)
    bound: list[Any] = []
    for row in rows:
        values = take(row)
        if processed:
            values = list(values)
            for slot, (index, process) in enumerate(processed):
                value = values[index]
                if value is None:
                    continue
                if value is last_in[slot]:
                    values[index] = last_out[slot]
                else:
                    last_in[slot] = value
                    values[index] = last_out[slot] = process(value)
            values = tuple(values)
        bound.append(values if positional or copying else dict(zip(order, values, strict=True)))
    if copying:
        _copy(connection, table, order, bound)
    else:
        connection.exec_driver_sql(sql, bound)


def _copy(connection: Connection, table: Table, order: tuple[str, ...], rows: list[Any]) -> None:
    """``rows`` (tuples in ``order``) into ``table`` by psycopg's ``COPY FROM STDIN``."""
    dialect = connection.dialect
    quote = dialect.identifier_preparer.quote
    sql = f"COPY {quote(table.name)} ({', '.join(quote(key) for key in order)}) FROM STDIN"
    driver = connection.connection.driver_connection
    assert driver is not None
    try:
        with driver.cursor() as cursor, cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)
    except dialect.loaded_dbapi.Error as error:  # as SQLAlchemy raises it: IntegrityError for a clash
        raise DBAPIError.instance(sql, None, error, dialect.loaded_dbapi.Error) from error
