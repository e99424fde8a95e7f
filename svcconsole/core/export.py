"""Every service a filter matches, written to a CSV or JSON file in keyset pages (bounded memory).

The records are those of `services list --format csv|json` (`views.LIST_FIELDS`); the file is
written beside its path under a temporary name and renamed once complete, so a failed or
stopped export leaves no partial file.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any

from svcconsole.core import views
from svcconsole.core.errors import InvalidInput
from svcconsole.store import queries
from svcconsole.store.engine import Database
from svcconsole.store.queries import ServiceFilter, Sort

PAGE_ROWS = 1000
FORMATS = {".csv": "csv", ".json": "json"}


class ExportStopped(Exception):
    """The export was stopped before its end; no file was written."""


def export_path(text: str) -> tuple[Path, str]:
    """The file an admin typed, and its format from its ending (.csv or .json)."""
    typed = text.strip()
    if not typed:
        raise InvalidInput("path", "type the file to write, ending in .csv or .json")
    path = Path(typed).expanduser()
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InvalidInput("path", f"{path.name!r} does not end in .csv or .json (the ending chooses the format)")
    if not path.parent.is_dir():
        raise InvalidInput("path", f"no folder {str(path.parent)!r}")
    if path.is_dir():
        raise InvalidInput("path", f"{str(path)!r} is a folder")
    return path, fmt


def count(db: Database, service_filter: ServiceFilter) -> int:
    with db.read() as session:
        return queries.count(session, service_filter)


def export_services(
    db: Database,
    service_filter: ServiceFilter,
    sort: Sort,
    path: Path,
    fmt: str,
    *,
    progress: Callable[[int], None] | None = None,
    stopped: Callable[[], bool] | None = None,
    page_rows: int = PAGE_ROWS,
) -> int:
    """Write every matching service to `path` as `fmt` (csv or json), page by page in `sort` order;
    `progress(rows written)` after each page. Returns the rows written."""
    temporary = path.with_name(f".{path.name}.part")
    written = 0
    try:
        with temporary.open("w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out, lineterminator="\n")
            if fmt == "csv":
                writer.writerow(views.LIST_FIELDS)
            else:
                out.write("[")
            after: Any = None
            while True:
                if stopped is not None and stopped():
                    raise ExportStopped
                with db.read() as session:
                    rows = queries.page(session, service_filter, sort, after=after, limit=page_rows, columns=queries.EXPORT_COLUMNS)
                for row in rows:
                    record = views.service_dict(row)
                    if fmt == "csv":
                        writer.writerow([views.csv_value(record.get(field)) for field in views.LIST_FIELDS])
                    else:
                        out.write(("\n  " if not written else ",\n  ") + views.json_record(record))
                    written += 1
                if progress is not None:
                    progress(written)
                if len(rows) < page_rows:
                    break
                after = queries.sort_key(rows[-1], sort)
            if fmt == "json":
                out.write("\n]\n" if written else "]\n")
        temporary.replace(path)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise InvalidInput("path", f"cannot write {str(path)!r}: {error.strerror or error}") from error
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return written
