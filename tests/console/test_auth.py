"""Passwords, sessions and the failed-login limit; users stored by `sada console user add`."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from console import auth
from console.i18n import STRINGS
from core import connect
from core.config import Settings
from sada import SAMPLE_CONFIG
from sada.cli import app


def test_passwords_are_salted_scrypt_hashes() -> None:
    first, second = auth.hash_password("s3cret"), auth.hash_password("s3cret")
    assert first != second and first.startswith("scrypt$") and "s3cret" not in first
    assert auth.check_password("s3cret", first) and not auth.check_password("s3cret ", first)


def test_a_session_expires_after_twelve_idle_hours() -> None:
    clock = [0.0]
    sessions = auth.Sessions(lambda: clock[0])
    token = sessions.start(auth.User("alice", ("acme",)))
    assert len(token) >= 43 and sessions.get(token) is not None
    clock[0] += auth.SESSION_IDLE_SECONDS
    assert sessions.get(token) is not None  # exactly 12 h idle: still alive, and touched
    clock[0] += auth.SESSION_IDLE_SECONDS
    assert sessions.alive(token)  # looking does not touch
    clock[0] += 0.1
    assert not sessions.alive(token)
    assert sessions.get(token) is None and token not in sessions.by_token
    assert sessions.get(None) is None and sessions.get("forged") is None


def test_five_failures_a_minute_block_a_name() -> None:
    clock = [0.0]
    failures = auth.FailedLogins(lambda: clock[0])
    for _ in range(5):
        assert not failures.blocked("bob")
        failures.failed("bob")
    assert failures.blocked("bob") and not failures.blocked("alice")
    clock[0] += 60
    assert not failures.blocked("bob")


@pytest.mark.parametrize(
    ("name", "clients", "admin", "error"),
    [
        ("al ice", ["acme"], False, "user name 'al ice': use 1-64 letters"),
        ("alice", ["Acme"], False, "client 'Acme': not a client id"),
        ("alice", [], False, "user 'alice': give at least one --client (or --admin)"),
    ],
)
def test_bad_users_are_refused_with_the_reason(
    name: str, clients: list[str], admin: bool, error: str
) -> None:
    with pytest.raises(ValueError, match=error.replace("(", r"\(").replace(")", r"\)")):
        auth.user_document(name, clients, admin, "pw")


def test_both_languages_have_every_string() -> None:
    assert STRINGS["en"].keys() == STRINGS["ar"].keys()


def test_console_user_add_stores_a_hashed_password_read_from_stdin(settings: Settings) -> None:
    env = {**settings.to_env(), "SADA_CONFIG": str(SAMPLE_CONFIG)}
    runner = CliRunner()
    made = runner.invoke(app, ["console", "user", "add", "maha", "--client", "northwind"],
                         input="long enough password\n", env=env)  # fmt: skip
    assert made.exit_code == 0, made.output
    assert (
        "long enough password" not in made.output and "console user maha: northwind" in made.output
    )
    with connect.elasticsearch(settings) as es:
        stored = es.get(index=auth.users_index(settings.namespace), id="maha")["_source"]
    assert stored["clients"] == ["northwind"] and stored["admin"] is False
    assert auth.check_password("long enough password", stored["password"])
    unknown = runner.invoke(app, ["console", "user", "add", "x", "--client", "nobody"],
                            input="pw\n", env=env)  # fmt: skip
    assert unknown.exit_code == 2 and "--client nobody: not in the clients file" in unknown.output
