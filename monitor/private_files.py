"""What the app keeps on disk under instance/ (the secret key, the SQLite database with its
-wal and -shm files, emails written as files, the static cache, an optional config.py) is for
the app's own user only: folders 0700, files 0600.

Modes are given explicitly when something is created, and put right at start-up for anything
made before (a git checkout makes instance/ 0755; earlier releases wrote with the umask's
modes), so nothing depends on the process umask, which this module never changes."""
import logging
import os
import stat
from pathlib import Path

from sqlalchemy.engine import make_url

FOLDER_MODE = 0o700
FILE_MODE = 0o600
# SQLite's companions of a database file. It creates them with the database file's own mode,
# so a database file made 0600 here keeps them private too.
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")

log = logging.getLogger(__name__)


def _set_mode(path: Path, mode: int) -> None:
    try:
        if stat.S_IMODE(path.lstat().st_mode) != mode:
            os.chmod(path, mode)
    except FileNotFoundError:
        pass  # removed meanwhile (a worker's temporary file, SQLite's -wal on close)
    except PermissionError:
        log.warning("cannot make %s private (mode %o): it belongs to another user", path, mode)


def private_folder(path) -> Path:
    """The folder, created 0700 (and its missing parents), or put right if it exists."""
    path = Path(path)
    path.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    _set_mode(path, FOLDER_MODE)
    return path


def write_private_file(path, data: bytes) -> None:
    """Write a new file, created 0600 (O_EXCL: never through someone else's file or link)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def make_tree_private(root) -> None:
    """Every folder under root 0700 and every file 0600; links are left alone."""
    root = Path(root)
    _set_mode(root, FOLDER_MODE)
    for folder, folders, files in os.walk(root):
        for name in folders:
            if not os.path.islink(os.path.join(folder, name)):
                _set_mode(Path(folder, name), FOLDER_MODE)
        for name in files:
            if not os.path.islink(os.path.join(folder, name)):
                _set_mode(Path(folder, name), FILE_MODE)


def private_sqlite_file(database_url: str) -> None:
    """For a SQLite database in a file: create the file 0600 before SQLite does (it would use
    0644 and give the same to -wal and -shm), or put an existing one right, companions too."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:") \
            or url.query.get("mode") == "memory" or url.database.startswith("file:"):
        return
    path = Path(url.database)
    if not path.parent.is_dir():
        return  # SQLite will say so on the first connection
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    except FileExistsError:
        _set_mode(path, FILE_MODE)
    for suffix in SQLITE_COMPANIONS:
        companion = path.with_name(path.name + suffix)
        if companion.exists():
            _set_mode(companion, FILE_MODE)
