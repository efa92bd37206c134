"""Maps a ``postgresql://`` URL to the eventsourcing library's PostgreSQL settings.

``VOICEMODE_DB`` names the store as one URL, the way operators write it; the
library's :class:`~eventsourcing.postgres.PostgresFactory` reads separate
environment keys. Settings the URL cannot carry (pool size, schema, timeouts)
keep the library's defaults and may still be given under the library's keys.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from eventsourcing.persistence import InfrastructureFactory

POSTGRES_SCHEMES = frozenset({"postgresql", "postgres"})
DEFAULT_PORT = 5432


def is_postgres_url(value: str) -> bool:
    """Tell whether a ``VOICEMODE_DB`` value names a PostgreSQL database."""
    return urlsplit(value).scheme.lower() in POSTGRES_SCHEMES


def postgres_environment(url: str) -> dict[str, str]:
    """Return the library's environment for ``postgresql://user:pass@host:port/dbname``.

    User, password and database name are percent-decoded; the host may be a
    bracketed IPv6 address or a percent-encoded socket directory (``%2Frun%2Fpg``).
    The port defaults to 5432 and the password to empty. Raises ``ValueError``
    for anything else, query parameters included, rather than ignore a setting.
    """
    # Imported here: psycopg costs 60 ms of start-up that SQLite users never need.
    from eventsourcing.postgres import PostgresFactory  # noqa: PLC0415

    parts = urlsplit(url)
    if parts.scheme.lower() not in POSTGRES_SCHEMES:
        msg = f"Not a PostgreSQL URL (expected postgresql://...): {_redacted(url)}"
        raise ValueError(msg)
    if parts.query or parts.fragment:
        msg = f"PostgreSQL URL parameters are not supported: {_redacted(url)}"
        raise ValueError(msg)
    host = _host(parts.netloc)
    user = unquote(parts.username or "")
    dbname = unquote(parts.path.removeprefix("/"))
    missing = [
        name
        for name, value in (("user", user), ("host", host), ("database name", dbname))
        if not value
    ]
    if missing:
        msg = f"PostgreSQL URL has no {', '.join(missing)}: {_redacted(url)}"
        raise ValueError(msg)
    return {
        InfrastructureFactory.PERSISTENCE_MODULE: "eventsourcing.postgres",
        PostgresFactory.POSTGRES_DBNAME: dbname,
        PostgresFactory.POSTGRES_HOST: host,
        PostgresFactory.POSTGRES_PORT: str(parts.port or DEFAULT_PORT),
        PostgresFactory.POSTGRES_USER: user,
        PostgresFactory.POSTGRES_PASSWORD: unquote(parts.password or ""),
    }


def _host(netloc: str) -> str:
    hostinfo = netloc.rpartition("@")[2]
    if hostinfo.startswith("["):
        return hostinfo[1 : hostinfo.find("]")]
    return unquote(hostinfo.partition(":")[0])


def _redacted(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    userinfo, _, hostinfo = parts.netloc.rpartition("@")
    user = userinfo.partition(":")[0]
    return parts._replace(netloc=f"{user}:***@{hostinfo}").geturl()
