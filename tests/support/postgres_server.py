"""A real PostgreSQL server for tests: the one in ``VOICEMODE_TEST_POSTGRES_URL``, or our own.

Without that variable, the session fixture :func:`postgres_url` creates a
throwaway cluster in a temporary directory (initdb, then pg_ctl on a free
loopback port, its socket in the same directory), adds a role with a password
and a database it owns, and removes it all at the end of the session. Durability
is switched off (fsync) since the cluster is thrown away.

The server binaries are looked for on ``PATH`` and in Debian's
``/usr/lib/postgresql/<version>/bin``. When they are missing the tests fail
rather than skip: CI installs them. As root, initdb and postgres refuse to run,
so they run as the ``postgres`` OS user (``runuser``).

Use it from a test module with ``from tests.support.postgres_server import postgres_url``.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

URL_VARIABLE = "VOICEMODE_TEST_POSTGRES_URL"
ROLE = "voicemode"
PASSWORD = "voicemode-test"
DATABASE = "voicemode"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """The URL of a PostgreSQL database the tests may create tables in."""
    url = os.environ.get(URL_VARIABLE)
    if url:
        yield url
        return
    with throwaway_cluster() as url:
        yield url


def find_server_binaries() -> Path:
    """Return the directory holding ``initdb`` and ``pg_ctl``, or fail the test."""
    on_path = shutil.which("initdb")
    candidates = [Path(on_path).parent] if on_path else []
    candidates += sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0,
        reverse=True,
    )
    for directory in candidates:
        if (directory / "initdb").is_file() and (directory / "pg_ctl").is_file():
            return directory
    pytest.fail(
        "PostgreSQL server binaries (initdb, pg_ctl) were not found on PATH or in "
        "/usr/lib/postgresql/*/bin. Install them (Debian: apt-get install postgresql) "
        f"or set {URL_VARIABLE}=postgresql://user:password@host:port/dbname."
    )


@contextmanager
def throwaway_cluster() -> Iterator[str]:
    """Run a new PostgreSQL cluster for as long as the context lasts; yield its URL."""
    bindir = find_server_binaries()
    base = Path(tempfile.mkdtemp(prefix="voicemode-pg-"))
    owner = _server_user()
    if owner is not None:
        os.chown(base, owner.pw_uid, owner.pw_gid)
    data = base / "data"
    log = base / "server.log"
    port = _free_port()
    try:
        _run(
            owner,
            bindir / "initdb",
            "-D",
            data,
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-locale",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "--no-sync",
        )
        options = (
            f"-c listen_addresses=127.0.0.1 -p {port} -k {base} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        pg_ctl = [bindir / "pg_ctl", "-D", data, "-w", "-t", "60"]
        _run(owner, *pg_ctl, "-l", log, "-o", options, "start", log=log)
        try:
            _create_role_and_database(base, port)
            yield f"postgresql://{ROLE}:{PASSWORD}@127.0.0.1:{port}/{DATABASE}"
        finally:
            _run(owner, *pg_ctl, "-m", "immediate", "stop", log=log)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _server_user() -> pwd.struct_passwd | None:
    """Return the OS user to run the server as when we are root, else None."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        pytest.fail("Running as root, but there is no 'postgres' OS user to run PostgreSQL.")


def _run(owner: pwd.struct_passwd | None, *command: object, log: Path | None = None) -> None:
    argv = [str(part) for part in command]
    if owner is not None:
        argv = ["runuser", "-u", owner.pw_name, "--", *argv]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        detail = result.stdout + result.stderr
        if log is not None and log.exists():
            detail += "\n".join(log.read_text().splitlines()[-20:])
        pytest.fail(f"{' '.join(argv)} failed with exit status {result.returncode}:\n{detail}")


def _create_role_and_database(socket_dir: Path, port: int) -> None:
    with psycopg.connect(
        host=str(socket_dir), port=port, user="postgres", dbname="postgres", autocommit=True
    ) as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(ROLE), sql.Literal(PASSWORD)
            )
        )
        conn.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(DATABASE), sql.Identifier(ROLE)
            )
        )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
