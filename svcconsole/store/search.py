"""Free-text search over services: the `search_text` column and the index behind it.

`search_text` is the lowercased name, customer name and email, product, uuid and domain (as given
and in its punycode form) of a service.
SQLite indexes it with an FTS5 trigram table (`service_search`, kept by triggers); PostgreSQL
with a pg_trgm GIN index. A term of 3+ characters that matches few services is answered from
the index as a list of ids; a term that matches many is answered by scanning in the list's own
order, which finds a page of matches after a few rows.
"""

from __future__ import annotations

from sqlalchemy import Connection, case, func, literal, select, text
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col

from svcconsole.store import domains
from svcconsole.store.models import Customer, Service

SELECTIVE_LIMIT = 2000
FTS_TABLE = "service_search"

SQLITE_DDL = (
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5(search_text, tokenize='trigram', detail=none, content='service', content_rowid='id')",
    f"CREATE TRIGGER IF NOT EXISTS service_search_insert AFTER INSERT ON service BEGIN INSERT INTO {FTS_TABLE}(rowid, search_text) VALUES (new.id, new.search_text); END",
    f"CREATE TRIGGER IF NOT EXISTS service_search_delete AFTER DELETE ON service BEGIN INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, search_text) VALUES ('delete', old.id, old.search_text); END",
    f"CREATE TRIGGER IF NOT EXISTS service_search_update AFTER UPDATE OF search_text ON service BEGIN "
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, search_text) VALUES ('delete', old.id, old.search_text); "
    f"INSERT INTO {FTS_TABLE}(rowid, search_text) VALUES (new.id, new.search_text); END",
)
SQLITE_TRIGGERS = ("service_search_insert", "service_search_delete", "service_search_update")
POSTGRESQL_DDL = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS ix_service_search_trgm ON service USING gin (search_text gin_trgm_ops)",
)


def search_text(name: str, customer_name: str, email: str, product_name: str | None, uuid: str, domain: str | None = None) -> str:
    """What a service is found by (keep in step with `search_text_sql`)."""
    text = f"{name} {customer_name} {email} {product_name or ''} {uuid}".lower()
    words = domains.search_words(domain)
    return f"{text} {words}" if words else text


def search_text_sql(email: ColumnElement[str] | str) -> ColumnElement[str]:
    """The same text computed in SQL from the service's own columns and the customer's email."""
    email_value = email if isinstance(email, ColumnElement) else literal(email)
    base = func.lower(Service.name + " " + Service.customer_name + " " + email_value + " " + func.coalesce(Service.product_name, "") + " " + Service.uuid)
    given = func.lower(func.coalesce(Service.domain, ""))
    ascii_value = func.coalesce(Service.domain_ascii, "")
    domain_words = case(
        (col(Service.domain).is_(None), ""),
        (given == ascii_value, " " + given),
        else_=" " + given + " " + ascii_value,
    )
    return base + domain_words


def customer_email_sql() -> ColumnElement[str]:
    return select(col(Customer.email)).where(col(Customer.id) == col(Service.customer_id)).scalar_subquery()


def create_index(connection: Connection, dialect: str) -> None:
    """Create the search index for `dialect` (used by the migration)."""
    for statement in SQLITE_DDL if dialect == "sqlite" else POSTGRESQL_DDL:
        connection.execute(text(statement))


def drop_sqlite_triggers(connection: Connection) -> None:
    for name in SQLITE_TRIGGERS:
        connection.execute(text(f"DROP TRIGGER IF EXISTS {name}"))


def drop_postgresql_index(connection: Connection) -> None:
    connection.execute(text("DROP INDEX IF EXISTS ix_service_search_trgm"))


def rebuild_sqlite_index(connection: Connection) -> None:
    """Rebuild the FTS index from the service table and put its triggers back."""
    connection.execute(text(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')"))
    for statement in SQLITE_DDL[1:]:
        connection.execute(text(statement))


def escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def escape_glob(term: str) -> str:
    """`term` as a GLOB pattern that matches it literally (`*`, `?` and `[` in brackets).

    GLOB rather than LIKE because FTS5's trigram index answers a LIKE only without an ESCAPE
    clause: with one, the query reads the whole table (360 ms at 1,000,000 services against 1)."""
    return "".join(f"[{char}]" if char in "*?[" else char for char in term)


def crashes_fts_glob(term: str) -> bool:
    """Whether the FTS5 trigram GLOB must not be asked for `term`: SQLite 3.40 crashes (a
    segmentation fault) on a pattern with a bracket expression (`[?]`, how `escape_glob` writes
    `*?[`) next to a character of three or more UTF-8 bytes. Such a term is searched by a scan."""
    return any(char in "*?[" for char in term) and not term.isascii()


def matching_ids(session: Session, term: str) -> tuple[int, ...] | None:
    """Every service id matching a 3+ character term when there are few (from the index);
    None when the term is short or broad, and a scan in list order is the faster plan."""
    if len(term) < 3 or session.get_bind().dialect.name != "sqlite" or crashes_fts_glob(term):
        return None
    rows = (
        session.execute(
            text(f"SELECT rowid FROM {FTS_TABLE} WHERE search_text GLOB :pattern LIMIT :limit"),
            {"pattern": f"*{escape_glob(term.lower())}*", "limit": SELECTIVE_LIMIT + 1},
        )
        .scalars()
        .all()
    )
    if len(rows) > SELECTIVE_LIMIT:
        return None
    return tuple(sorted(rows))
