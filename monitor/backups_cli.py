"""`flask --app monitor backup PATH` and `restore PATH` (monitor/backups.py does the work).

They run whatever the database's schema (schema_version.py refuses only serving): a backup
before `db upgrade` is the point. Problems are printed as "Error: ..." with exit status 1.

On PostgreSQL they print the pg_dump / pg_restore commands and exit with status 1: nothing was
backed up or restored, and a scheduled job that ran `backup` must fail loudly rather than
report a backup that was never made."""
from pathlib import Path

import click
from flask import current_app

from . import backups
from .audit import record
from .extensions import db
from .schema_version import UPGRADE_COMMAND, Status, migrations_directory


def init_app(app) -> None:
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)


def _live_sqlite_file(postgres_text) -> Path:
    """The live SQLite database's file; on PostgreSQL, postgres_text(url) printed and exit 1."""
    url = current_app.config["SQLALCHEMY_DATABASE_URI"]
    try:
        live = backups.sqlite_file(url)
    except backups.BackupProblem as problem:
        raise click.ClickException(str(problem)) from None
    if live is not None:
        return live
    if url.startswith("postgresql"):
        click.echo(postgres_text(url))
        click.echo("Nothing was done: on PostgreSQL, use the command above.", err=True)
        raise click.exceptions.Exit(1)
    raise click.ClickException("backup and restore know SQLite and PostgreSQL only; "
                               "use your database's own tools")


@click.command("backup", short_help="Copy the database into a file (SQLite), consistent while the app runs.")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="Replace PATH if it exists.")
def backup_command(path: Path, force: bool):
    """Copy the SQLite database into a new file PATH (mode 0600), consistent while the app goes
    on writing, and say what it holds. The copy holds every patient's data: keep it as safely
    as the database. On PostgreSQL: prints the pg_dump command to use."""
    live = _live_sqlite_file(lambda url: backups.postgres_backup_text(url, str(path)))
    try:
        copy = backups.backup_sqlite(live, path, migrations_directory(current_app), force=force)
    except backups.BackupProblem as problem:
        raise click.ClickException(str(problem)) from None
    except OSError as error:
        raise click.ClickException(f"{error.filename or path}: {error.strerror}") from None
    if copy.schema.status is Status.AT_HEAD:  # an audit row of this release's shape
        record("database.backed_up", detail=f"cli, to {path.resolve()}")
        db.session.commit()
    click.echo(f"Backed up {live} to {path}: {copy.describe()}.")


@click.command("restore", short_help="Put a backup made by `backup` in place of the database (SQLite).")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def restore_command(path: Path, yes: bool):
    """Replace everything in the SQLite database by the backup PATH, after checking that the
    backup is intact and of a schema this release knows. Stop the app (web servers and
    send-nudges runners) first, and start it after. On PostgreSQL: prints the pg_restore
    command to use."""
    live = _live_sqlite_file(lambda url: backups.postgres_restore_text(url, str(path)))
    migrations = migrations_directory(current_app)
    try:
        backup = backups.inspect_backup(path, migrations)
        current = backups.live_contents(live, migrations)
    except backups.BackupProblem as problem:
        raise click.ClickException(str(problem)) from None
    except OSError as error:
        raise click.ClickException(f"{error.filename or path}: {error.strerror}") from None
    click.echo(f"Backup {path}: {backup.describe()}.")
    click.echo(f"Database {live}: {current.describe() if current else 'empty'}.")
    click.echo("Everything in the database is replaced by the backup; what was written since the backup "
               "was made is lost. The app (web servers and send-nudges runners) must be stopped.")
    if not yes:
        click.confirm("Replace the database with the backup?", abort=True)
    try:
        restored = backups.restore_sqlite(path, live, migrations)
    except backups.BackupProblem as problem:
        raise click.ClickException(str(problem)) from None
    click.echo(f"Restored {path} into {live}: {restored.describe()}.")
    if restored.schema.status is Status.AT_HEAD:
        record("database.restored", detail=f"cli, from {path.resolve()}")
        db.session.commit()
        click.echo("Start the app.")
    else:  # inspect_backup let through only an earlier release's schema
        click.echo(f"It was made by an earlier release: run {UPGRADE_COMMAND}, then start the app.")
