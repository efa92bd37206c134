"""Start-up checks of ``voicemode serve`` and ``voicemode agent``: one line, then exit.

A server that cannot start says why in one line on standard error,
``voicemode: <cause>. <what to do>``, and exits with a documented code:

* ``EXIT_CONFIG`` (2): a flag, variable or file names something unusable
  (a missing secret, an unknown engine, a directory as ``--db``); fix the
  configuration;
* ``EXIT_UNAVAILABLE`` (1): something the server needs is busy or broken
  (a port in use, a store another server holds, a read-only or corrupt
  store, an unreachable database); fix the machine, or wait.

The checks run before anything expensive starts, in the order a user fixes
things: configuration, ports (really bound, then released), the recordings
directory under ``--record`` (a file written and removed), the store (locked,
opened, a write transaction rolled back), then the engines. Only once all of
them passed and the server listens are ``--dev`` secrets written and shown.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from adapters.shells.auth import WeakSecretError, check_secret

log = logging.getLogger(__name__)

EXIT_UNAVAILABLE = 1
EXIT_CONFIG = 2


class StartupError(Exception):
    """A start-up check failed; ``line`` is all the user is shown, ``code`` the exit code."""

    def __init__(self, cause: str, remedy: str, code: int = EXIT_UNAVAILABLE) -> None:
        super().__init__(cause)
        self.cause = cause.rstrip(".")
        self.remedy = remedy
        self.code = code

    def line(self, program: str = "voicemode") -> str:
        """The one line printed on standard error."""
        return f"{program}: {self.cause}. {self.remedy}"


def port_error(host: str, port: int, flag: str, error: OSError) -> StartupError:
    """What a failed bind of ``host:port`` (given by ``flag``) means to the user."""
    if error.errno == errno.EADDRINUSE:
        return StartupError(
            f"port {port} on {host} is already in use (another voicemode serve?)",
            f"Stop it or pick another with {flag}.",
        )
    if error.errno == errno.EACCES:
        return StartupError(
            f"port {port} on {host} needs privileges this user lacks",
            f"Pick a port above 1023 with {flag}.",
            EXIT_CONFIG,
        )
    if error.errno == errno.EADDRNOTAVAIL:
        return StartupError(
            f"{host} is not an address of this machine",
            "Pick one of its addresses with --host (127.0.0.1 for this machine only).",
            EXIT_CONFIG,
        )
    return StartupError(
        f"cannot listen on port {port} on {host} ({error.strerror or error})",
        f"Pick another port with {flag} or another address with --host.",
    )


def check_ports(host: str, ports: dict[str, int]) -> None:
    """Bind (and release) every port the server will listen on, before anything starts.

    ``ports`` maps the flag that sets a port to its value; port 0 (any) is
    not checked. Binding as asyncio will (``SO_REUSEADDR``, every address
    the host resolves to) finds a port another process holds without
    starting the store or loading a model first.
    """
    wanted = {flag: port for flag, port in ports.items() if port}
    if len(set(wanted.values())) < len(wanted):
        flags = " and ".join(wanted)
        raise StartupError(f"{flags} name the same port", "Give each its own port.", EXIT_CONFIG)
    for flag, port in wanted.items():
        try:
            addresses = socket.getaddrinfo(
                host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
            )
        except socket.gaierror as error:
            raise StartupError(
                f"cannot resolve the host {host!r} ({error.strerror})",
                "Pass an address or name of this machine with --host.",
                EXIT_CONFIG,
            ) from error
        for family, kind, proto, _, address in addresses:
            with socket.socket(family, kind, proto) as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                try:
                    sock.bind(address)
                    sock.listen()
                except OSError as error:
                    raise port_error(host or "all addresses", port, flag, error) from error


def check_store_path(db: str) -> None:
    """Refuse a SQLite ``--db`` that cannot be a file before anything is created."""
    path = Path(db)
    if path.is_dir():
        raise StartupError(
            f"--db {db} is a directory",
            f"Name a file, e.g. --db {path / 'voicemode.db'}.",
            EXIT_CONFIG,
        )
    if not path.parent.is_dir():
        raise StartupError(
            f"the directory of --db {db} does not exist",
            "Create it or pick another --db.",
            EXIT_CONFIG,
        )


def claim_store(db: str) -> IO[bytes] | None:
    """Make this process the only server writing a SQLite store.

    Two servers on one file would both believe they are each room's single
    writer; the second would loop on refused commits. PostgreSQL stores are
    shared by design (optimistic concurrency keeps one writer per room).
    The lock dies with the process, so a crashed server never blocks a restart.
    """
    if "://" in db:
        return None
    check_store_path(db)
    try:  # read-only: an existing lock file can be locked on a read-only disk too
        lock = os.fdopen(os.open(f"{db}.lock", os.O_RDONLY | os.O_CREAT, 0o644), "rb")
    except OSError as error:
        raise StartupError(
            f"cannot create {db}.lock next to the event store ({error.strerror})",
            "The store's directory must be writable: fix its permissions or pick another --db.",
        ) from error
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise StartupError(
            f"another voicemode serve is using {db}",
            "Stop it, or give this server another --db.",
        ) from None
    return lock


def store_error(shown_db: str, error: BaseException) -> StartupError:
    """What an event store that failed to open or to take a write means to the user.

    SQLite says "unable to open database file" for a store in WAL mode on a
    read-only disk; the file system says what it is.
    """
    reason = str(error) or type(error).__name__
    if "://" not in shown_db and not _writable(Path(shown_db)):
        reason = f"{reason}: the file or its directory is read-only"
    lowered = reason.lower()
    if "not a database" in lowered or "malformed" in lowered:
        return StartupError(
            f"the event store {shown_db} is not a voicemode store or is damaged ({reason})",
            "Move the file aside, or pick another --db.",
        )
    if "readonly" in lowered or "read-only" in lowered:
        return StartupError(
            f"the event store {shown_db} is read-only ({reason})",
            "Make the file and its directory writable, or pick another --db.",
        )
    if "full" in lowered:
        return StartupError(
            f"the event store {shown_db} has no room left ({reason})",
            "Free some disk space, or pick another --db.",
        )
    if "://" in shown_db:
        return StartupError(
            f"cannot use the PostgreSQL store {shown_db} ({reason})",
            "Check that the server runs and takes these credentials (--db or VOICEMODE_DB).",
        )
    return StartupError(
        f"cannot open the event store {shown_db} ({reason})",
        "Check that the file and its directory are readable and writable, or pick another --db.",
    )


RECORDINGS_PROBE = "voicemode-write-check"
"""The blob written and removed at start to prove ``--record-dir`` can hold recordings."""


def check_recordings(directory: Path) -> None:
    """Whether ``--record-dir`` can hold recordings: made if need be, a small file written, removed.

    Raises:
        StartupError: it cannot be made or written (permissions, a file in
            its place, a read-only or full file system).
    """
    from adapters.blobs.base import BlobStoreError  # noqa: PLC0415
    from adapters.blobs.local import LocalDirectoryBlobStore  # noqa: PLC0415

    store = LocalDirectoryBlobStore(directory)
    try:
        store.put(RECORDINGS_PROBE, b"voicemode")
        store.delete(RECORDINGS_PROBE)
    except BlobStoreError as error:
        raise StartupError(
            f"the recordings directory cannot be written ({error})",
            "Fix it, free space, or pick another with --record-dir.",
        ) from error


def _writable(path: Path) -> bool:
    """Whether this user may write the file (if it exists) and its directory."""
    directory = path.parent if str(path.parent) else Path(".")
    return os.access(directory, os.W_OK) and (not path.exists() or os.access(path, os.W_OK))


@dataclass(frozen=True)
class DevSecret:
    """A ``--dev`` secret, and where it came from: ``environment``, ``file`` or ``generated``."""

    variable: str
    value: str
    source: str

    @property
    def generated(self) -> bool:
        """Made at this start: still to be saved and shown."""
        return self.source == "generated"


def dev_secrets_path(db: str) -> Path:
    """Where ``--dev`` keeps its secrets: beside a SQLite store, else in the working directory."""
    if "://" in db:
        return Path("voicemode.dev-secrets")
    return Path(f"{db}.dev-secrets")


def read_dev_secrets(path: Path) -> dict[str, str]:
    """The ``VARIABLE=value`` lines of a dev-secrets file (empty if there is none)."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    except OSError as error:
        log.warning("cannot read %s (%s); generating new --dev secrets", path, error.strerror)
        return {}
    pairs = (line.partition("=") for line in text.splitlines() if "=" in line)
    return {key.strip(): value.strip() for key, _, value in pairs}


def write_dev_secrets(path: Path, secrets: dict[str, str]) -> None:
    """Save the ``--dev`` secrets, readable by this user only (mode 0600)."""
    body = "".join(f"{key}={value}\n" for key, value in sorted(secrets.items()))
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        os.fchmod(file.fileno(), 0o600)
        file.write(body)


def dev_secret(variable: str, path: Path, generate: str) -> DevSecret:
    """The ``--dev`` value of ``variable``: the environment's, the saved one, or ``generate``.

    A strong value in the environment wins; else the one saved by an earlier
    ``--dev`` start in ``path``, so tokens minted then keep working; else
    ``generate``, a fresh one to be saved once the server listens.
    """
    candidates = (
        ("environment", os.environ.get(variable)),
        ("file", read_dev_secrets(path).get(variable)),
    )
    for source, value in candidates:
        try:
            return DevSecret(variable, check_secret(value, variable), source)
        except WeakSecretError:
            continue
    return DevSecret(variable, generate, "generated")


def announce_dev_secrets(path: Path, chosen: list[DevSecret]) -> None:
    """Save generated ``--dev`` secrets and show them; say where saved ones come from.

    Called once the server listens, so a server that failed to start never
    shows (or saves) a secret. Secrets taken from the environment are
    neither saved nor shown.
    """
    generated = [secret for secret in chosen if secret.generated]
    saved = [secret for secret in chosen if secret.source == "file"]
    if generated:
        kept = read_dev_secrets(path)
        kept.update({secret.variable: secret.value for secret in generated})
        try:
            write_dev_secrets(path, kept)
            where = f"saved in {path} for the next --dev start"
        except OSError as error:
            where = f"not saved: cannot write {path} ({error.strerror})"
        for secret in generated:
            print(f"voicemode: --dev: generated {secret.variable}={secret.value} ({where})")
    for secret in saved:
        print(f"voicemode: --dev: {secret.variable} from {path}")
    if generated or saved:
        print(
            f"voicemode: --dev: `set -a; . {path}; set +a` exports them for `voicemode token`",
            flush=True,
        )
