"""Query pieces shared by the modules that read a panel's or a clinic's worth of rows."""
from collections.abc import Iterable

from sqlalchemy import Integer, any_, literal
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql import Select

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
