"""The library's PostgreSQL recorders against a real server, configured from a URL."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.postgres import (
    PostgresApplicationRecorder,
    PostgresDatastore,
    PostgresFactory,
    PostgresProcessRecorder,
)
from eventsourcing.tests import persistence as library_tests
from psycopg import sql

from events.postgres import is_postgres_url, postgres_environment
from tests.support.postgres_server import postgres_url  # noqa: F401  (the fixture)


@pytest.fixture(scope="class")
def postgres_class(request: pytest.FixtureRequest, postgres_url: str) -> None:  # noqa: F811
    request.cls.postgres_url = postgres_url


class FreshSchema:
    """Gives each test its own schema (so tests never see each other's tables)."""

    postgres_url: str
    schema: str
    datastore: PostgresDatastore

    def setUp(self) -> None:
        self.schema = f"test_{uuid4().hex}"
        run_sql(self.postgres_url, "CREATE SCHEMA {}", self.schema)
        self.addCleanup(run_sql, self.postgres_url, "DROP SCHEMA {} CASCADE", self.schema)  # type: ignore[attr-defined]
        env = postgres_environment(self.postgres_url)
        self.datastore = PostgresDatastore(
            env["POSTGRES_DBNAME"],
            env["POSTGRES_HOST"],
            env["POSTGRES_PORT"],
            env["POSTGRES_USER"],
            env["POSTGRES_PASSWORD"],
            pool_size=2,
            max_overflow=14,
            schema=self.schema,
        )
        self.addCleanup(self.datastore.close)  # type: ignore[attr-defined]


def run_sql(url: str, statement: str, identifier: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL(statement).format(sql.Identifier(identifier)))


@pytest.mark.postgres
@pytest.mark.usefixtures("postgres_class")
class TestApplicationRecorder(
    FreshSchema, library_tests.ApplicationRecorderTestCase[PostgresApplicationRecorder]
):
    def create_recorder(self) -> PostgresApplicationRecorder:
        recorder = PostgresApplicationRecorder(self.datastore)
        recorder.create_table()
        return recorder

    def test_insert_subscribe(self) -> None:
        self.optional_test_insert_subscribe()


@pytest.mark.postgres
@pytest.mark.usefixtures("postgres_class")
class TestTrackingRecorder(FreshSchema, library_tests.TrackingRecorderTestCase):
    def create_recorder(self) -> PostgresProcessRecorder:
        recorder = PostgresProcessRecorder(self.datastore)
        recorder.create_table()
        return recorder


@pytest.mark.postgres
@pytest.mark.usefixtures("postgres_class")
class TestProcessRecorder(FreshSchema, library_tests.ProcessRecorderTestCase):
    def create_recorder(self) -> PostgresProcessRecorder:
        recorder = PostgresProcessRecorder(self.datastore)
        recorder.create_table()
        return recorder


@pytest.mark.postgres
def test_an_application_configured_from_the_url_can_be_subscribed_to(
    postgres_url: str,  # noqa: F811
) -> None:
    schema = f"test_{uuid4().hex}"
    run_sql(postgres_url, "CREATE SCHEMA {}", schema)
    env: dict[str, Any] = {**postgres_environment(postgres_url), "POSTGRES_SCHEMA": schema}
    try:
        assert type(InfrastructureFactory.construct(env)) is PostgresFactory
        app = Application[UUID](env=env)
        try:
            with app.recorder.subscribe(gt=0) as subscription:
                app.save(Aggregate())
                assert next(subscription).id == 1
        finally:
            app.close()
    finally:
        run_sql(postgres_url, "DROP SCHEMA {} CASCADE", schema)


def test_url_maps_to_library_environment() -> None:
    assert postgres_environment("postgresql://alice:s3cret@db.example:6543/voice") == {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": "voice",
        "POSTGRES_HOST": "db.example",
        "POSTGRES_PORT": "6543",
        "POSTGRES_USER": "alice",
        "POSTGRES_PASSWORD": "s3cret",
    }


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "postgres://al%40ice:p%3Aw%2Fd%40x@127.0.0.1/my%20db",
            ("al@ice", "p:w/d@x", "127.0.0.1", "5432", "my db"),
        ),
        ("postgresql://bob@[::1]:5433/db", ("bob", "", "::1", "5433", "db")),
        ("postgresql://bob@%2Frun%2FPostgres/db", ("bob", "", "/run/Postgres", "5432", "db")),
        ("POSTGRESQL://bob:x@Host.Example/db", ("bob", "x", "Host.Example", "5432", "db")),
    ],
)
def test_url_parts_are_decoded(url: str, expected: tuple[str, ...]) -> None:
    env = postgres_environment(url)
    keys = ("POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_HOST", "POSTGRES_PORT")
    assert (*(env[key] for key in keys), env["POSTGRES_DBNAME"]) == expected


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///voicemode.db",
        "postgresql://user:topsecret@host:5432/",
        "postgresql://user:topsecret@:5432/db",
        "postgresql://:topsecret@host/db",
        "postgresql://user:topsecret@host/db?sslmode=require",
        "postgresql://user:topsecret@host:notaport/db",
    ],
)
def test_bad_urls_are_refused_without_showing_the_password(url: str) -> None:
    with pytest.raises(ValueError) as raised:
        postgres_environment(url)
    assert "topsecret" not in str(raised.value)


def test_is_postgres_url() -> None:
    assert is_postgres_url("postgresql://u@h/d")
    assert is_postgres_url("postgres://u@h/d")
    assert not is_postgres_url("./voicemode.db")
    assert not is_postgres_url("/var/lib/voicemode.db")
