"""Backups of the database, and putting one back (`flask --app monitor backup PATH` and
`restore PATH`, backups_cli.py).

SQLite: SQLite's online backup API (sqlite3.Connection.backup), in one step. A single step
copies every page inside one read transaction, so the copy is the database as of one commit,
while the app goes on writing (in WAL mode a reader never blocks the writer). Copied a few
pages at a time instead, the copy would restart whenever the app wrote, and might never end
on a busy clinic. The copy is written to a private (0600) temporary file beside PATH, checked,
then renamed onto PATH: a crash leaves either no backup or a whole one, never half of one.

A restore writes the backup into the live database file through the same API, rather than
renaming a file over it: SQLite locks the database while it does, so another process that
has it open never reads a half-restored file, and the database's -wal file is not left
describing a file that is gone. The app (web servers and send-nudges runners) must still be
stopped first: a running process checked the schema when it started (schema_version.py) and
would go on serving a restored database that needs an upgrade.

PostgreSQL is backed up with its own tools (pg_dump, pg_restore); for it these commands
print the exact commands for the configured database, without its password."""
import os
import shlex
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from . import private_files
from .schema_version import SchemaState, Status, UPGRADE_COMMAND, classify, code_revisions
from .wording import plural

SQLITE_HEADER = b"SQLite format 3\x00"
# Tables every release of this app has had since its first migration: a SQLite database
# without them is some other program's.
OWN_TABLES = ("clinic", "users", "checkins")


class BackupProblem(Exception):
    """Why a backup or a restore cannot be done, in words for the operator."""


@dataclass(frozen=True)
class Contents:
    """What a database file holds, told without any name: for the operator to check."""
    path: Path
    size: int  # bytes
    schema: SchemaState
    patients: int
    checkins: int
    ours: bool = True  # has this app's tables

    def describe(self) -> str:
        where = {Status.AT_HEAD: "this release's", Status.BEHIND: "an earlier release's",
                 Status.NEWER: "a newer release's", Status.EMPTY: "none"}[self.schema.status]
        return (f"{human_size(self.size)}, schema revision {self.schema.revision or '-'} ({where}), "
                f"{plural(self.patients, 'patient')}, "
                f"{plural(self.checkins, 'check-in')}")


def human_size(size: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


# --- Which database.

def sqlite_file(database_url: str) -> Path | None:
    """The file of a SQLite database URL; None for any other database."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        return None
    if url.database in (None, "", ":memory:") or url.query.get("mode") == "memory":
        raise BackupProblem("the database is in memory: there is nothing on disk to back up or restore")
    return Path(url.database)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


# --- Reading a database file.

def _open_read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)


def _is_sqlite(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(len(SQLITE_HEADER)) == SQLITE_HEADER


def _integrity_problems(conn: sqlite3.Connection) -> list[str]:
    rows = [row[0] for row in conn.execute("PRAGMA integrity_check")]
    return [] if rows == ["ok"] else rows


def _contents(conn: sqlite3.Connection, path: Path, migrations: str) -> Contents:
    tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    revisions = ()
    if "alembic_version" in tables:
        revisions = tuple(r for (r,) in conn.execute("SELECT version_num FROM alembic_version"))
    schema = classify(revisions, code_revisions(migrations))
    if not set(OWN_TABLES) <= tables:
        return Contents(path, path.stat().st_size, schema, 0, 0, ours=False)
    patients = conn.execute("SELECT count(*) FROM users WHERE role = 'patient'").fetchone()[0]
    checkins = conn.execute("SELECT count(*) FROM checkins").fetchone()[0]
    return Contents(path, path.stat().st_size, schema, patients, checkins, ours=True)


def inspect_backup(path: Path, migrations: str) -> Contents:
    """What the backup file at `path` holds, once it is known to be an intact database of this
    app at a schema this release can serve or upgrade. BackupProblem otherwise."""
    if not path.exists():
        raise BackupProblem(f"{path}: no such file")
    if not path.is_file():
        raise BackupProblem(f"{path} is not a file")
    if not _is_sqlite(path):
        raise BackupProblem(f"{path} is not a SQLite database")
    try:
        conn = _open_read_only(path)
        try:
            problems = _integrity_problems(conn)
            if problems:
                raise BackupProblem(f"{path} is damaged (PRAGMA integrity_check: {'; '.join(problems[:3])})")
            contents = _contents(conn, path, migrations)
        finally:
            conn.close()
    except sqlite3.DatabaseError as error:
        raise BackupProblem(f"{path} is damaged ({error})") from None
    if not contents.ours or contents.schema.status is Status.EMPTY:
        raise BackupProblem(f"{path} is not a backup of this app: it lacks its tables or its schema revision")
    if contents.schema.status is Status.NEWER:
        raise BackupProblem(f"{path} was made by a newer release (schema revision {contents.schema.revision}), "
                            "which this release cannot read: install that release to restore it")
    return contents


def live_contents(live: Path, migrations: str) -> Contents | None:
    """What the live database holds, or None when it is missing or empty (a new machine)."""
    if not live.exists() or live.stat().st_size == 0:
        return None
    conn = sqlite3.connect(live, timeout=30)
    try:
        return _contents(conn, live, migrations)
    finally:
        conn.close()


# --- Backup.

def check_destination(destination: Path, live: Path, force: bool) -> None:
    """BackupProblem unless a backup may be written at `destination`."""
    if destination.is_dir():
        raise BackupProblem(f"{destination} is a folder: give the backup's file name, "
                            f"e.g. {destination / 'monitor-backup.db'}")
    if not destination.parent.is_dir():
        raise BackupProblem(f"the folder {destination.parent} does not exist")
    live_files = [live] + [live.with_name(live.name + s) for s in private_files.SQLITE_COMPANIONS]
    if any(_same_file(destination, f) or destination.resolve() == f.resolve() for f in live_files):
        raise BackupProblem(f"{destination} is the live database itself: give another file")
    if destination.exists() and not force:
        raise BackupProblem(f"{destination} already exists: give another name, or --force to replace it")


def backup_sqlite(live: Path, destination: Path, migrations: str, *, force: bool = False) -> Contents:
    """A consistent copy of the live SQLite database at `destination` (0600), and what it holds."""
    if not live.is_file() or live.stat().st_size == 0:
        raise BackupProblem(f"there is no database at {live} to back up")
    check_destination(destination, live, force)
    fd, temporary = tempfile.mkstemp(dir=destination.parent, prefix=f".{destination.name}.", suffix=".partial")
    os.close(fd)  # mkstemp made it 0600, and SQLite writes into it as it is
    temporary = Path(temporary)
    try:
        source = sqlite3.connect(live, timeout=30)
        copy = sqlite3.connect(temporary)
        try:
            source.backup(copy)  # pages=-1: every page in one step, one read transaction (see above)
            # The copy inherits WAL mode from the live file: make it one self-contained file.
            copy.execute("PRAGMA journal_mode=DELETE")
            problems = _integrity_problems(copy)
            if problems:
                raise BackupProblem(f"the copy failed its integrity check ({'; '.join(problems[:3])}): "
                                    "check the live database with PRAGMA integrity_check")
            contents = _contents(copy, temporary, migrations)
        finally:
            copy.close()
            source.close()
        _fsync(temporary)
        os.replace(temporary, destination)
        _fsync(destination.parent)
    except sqlite3.Error as error:
        temporary.unlink(missing_ok=True)
        raise BackupProblem(f"the backup failed: {error}") from None
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return Contents(destination, destination.stat().st_size, contents.schema, contents.patients, contents.checkins)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- Restore.

def restore_sqlite(backup: Path, live: Path, migrations: str) -> Contents:
    """Write the backup (checked with inspect_backup first) into the live database file,
    replacing everything in it, in one SQLite transaction: all of it or, on failure, nothing."""
    if _same_file(backup, live):
        raise BackupProblem(f"{backup} is the live database itself")
    private_files.private_sqlite_file(f"sqlite:///{live}")  # a new machine's: created 0600, not 0644
    source = _open_read_only(backup)
    target = sqlite3.connect(live, timeout=30)
    try:
        source.backup(target)
        problems = _integrity_problems(target)
        if problems:
            raise BackupProblem(f"the restored database failed its integrity check ({'; '.join(problems[:3])})")
        contents = _contents(target, live, migrations)
    except sqlite3.Error as error:
        raise BackupProblem(f"the restore failed, and the database is as it was: {error}") from None
    finally:
        target.close()
        source.close()
    return contents


# --- PostgreSQL.

def postgres_commands(database_url: str, path: str) -> tuple[str, str]:
    """The pg_dump and pg_restore commands for this database and backup file, password left
    out (libpq reads it from PGPASSWORD or ~/.pgpass)."""
    url = make_url(database_url)
    connection = []
    if url.host:
        connection.append(f"--host={shlex.quote(url.host)}")
    connection.append(f"--port={url.port or 5432}")
    if url.username:
        connection.append(f"--username={shlex.quote(url.username)}")
    options = {k: v for k, v in url.query.items() if k != "password" and isinstance(v, str)}
    if options:  # sslmode and the like: a connection string carries them
        dbname = " ".join([f"dbname={url.database}"] + [f"{k}={v}" for k, v in sorted(options.items())])
    else:
        dbname = url.database or ""
    connection.append(f"--dbname={shlex.quote(dbname)}")
    file = shlex.quote(path)
    dump = " ".join(["pg_dump", "--format=custom", *connection, f"--file={file}"])
    restore = " ".join(["pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction",
                        "--exit-on-error", *connection, file])
    return dump, restore


PASSWORD_ADVICE = ("Give the password through the PGPASSWORD environment variable or a ~/.pgpass file "
                   "(mode 0600, one line host:port:dbname:user:password), never on the command line, "
                   "where other users can read it in the process list.")


def postgres_backup_text(database_url: str, path: str) -> str:
    dump, _ = postgres_commands(database_url, path)
    return "\n".join([
        "This database is PostgreSQL: back it up with pg_dump, in its custom format (-Fc), which "
        "pg_restore reads:", "", f"  {dump}", "", PASSWORD_ADVICE,
        "Use a pg_dump of the server's major version or newer. The dump is consistent while the app runs."])


def postgres_restore_text(database_url: str, path: str) -> str:
    _, restore = postgres_commands(database_url, path)
    return "\n".join([
        "This database is PostgreSQL: restore a pg_dump backup with pg_restore, with the app stopped "
        "(web servers and send-nudges runners). Everything in the database is replaced, in one transaction:",
        "", f"  {restore}", "", PASSWORD_ADVICE,
        f"If the backup was made by an earlier release, run next: {UPGRADE_COMMAND}"])
