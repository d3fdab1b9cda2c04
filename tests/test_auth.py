"""API tokens: hashing, verification, revocation, and the `tracker token` commands."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from typer.testing import CliRunner

from tracker.auth import (
    MalformedToken,
    MissingToken,
    RevokedToken,
    TokenNotFound,
    UnknownToken,
    create_token,
    hash_secret,
    parse_token,
    revoke_tokens,
    verify_token,
)
from tracker.cli import app as cli_app
from tracker.config import Settings
from tracker.models import ApiToken

NOW = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)


def test_token_is_stored_hashed_and_verifies(engine: Engine) -> None:
    with Session(engine) as s:
        issued = create_token(s, "ci", ["claims:write", "resolve", "resolve"], now=NOW)
        s.commit()
        prefix, secret = parse_token(issued.plaintext)
        row = s.exec(select(ApiToken)).one()
        assert row.prefix == prefix and row.scopes == ["claims:write", "resolve"]
        assert secret not in row.secret_hash and row.secret_hash == hash_secret(secret)
        assert verify_token(s, issued.plaintext, now=NOW).id == row.id
        assert row.last_used_at == NOW
        # last_used_at is written at most once a minute
        verify_token(s, issued.plaintext, now=NOW + dt.timedelta(seconds=10))
        assert row.last_used_at == NOW
        verify_token(s, issued.plaintext, now=NOW + dt.timedelta(minutes=2))
        assert row.last_used_at == NOW + dt.timedelta(minutes=2)


def test_verify_failures(engine: Engine) -> None:
    with Session(engine) as s:
        issued = create_token(s, "ci", ["resolve"], now=NOW)
        s.commit()
        with pytest.raises(MissingToken):
            verify_token(s, None, now=NOW)
        for bad in ("abc", "trk_zz_secret", "trk_0123ABCD_" + "A" * 43, "trk_0123abcd_"):
            with pytest.raises(MalformedToken):
                verify_token(s, bad, now=NOW)
        with pytest.raises(MalformedToken):
            verify_token(s, "Bearer " + issued.plaintext, now=NOW)
        prefix = issued.plaintext.rsplit("_", 1)[0]
        with pytest.raises(UnknownToken):
            verify_token(s, prefix + "_" + "A" * 43, now=NOW)
        for short in (prefix + "_short", "trk_0123abcd_short"):  # of the form: not known
            with pytest.raises(UnknownToken):
                verify_token(s, short, now=NOW)
        with pytest.raises(UnknownToken):
            verify_token(s, "trk_00000000_" + "A" * 43, now=NOW)
        revoke_tokens(s, "ci", now=NOW)
        s.commit()
        with pytest.raises(RevokedToken):
            verify_token(s, issued.plaintext, now=NOW)
        with pytest.raises(TokenNotFound):
            revoke_tokens(s, "nobody", now=NOW)


def test_bad_scope_and_name_rejected(engine: Engine) -> None:
    with Session(engine) as s:
        with pytest.raises(ValueError, match="unknown scope"):
            create_token(s, "x", ["admin"], now=NOW)
        with pytest.raises(ValueError, match="token name"):
            create_token(s, "", ["resolve"], now=NOW)


def test_cli_create_list_revoke(
    settings: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACKER_DATABASE_URL", settings.database_url)
    runner = CliRunner()
    created = runner.invoke(
        cli_app,
        ["token", "create", "--name", "ci-bot", "--scope", "claims:write", "--scope", "resolve"],
    )
    assert created.exit_code == 0, created.output
    plaintext = created.stdout.strip().splitlines()[0]
    prefix, secret = parse_token(plaintext)
    with Session(engine) as s:
        assert verify_token(s, plaintext, now=NOW).scopes == ["claims:write", "resolve"]
    listed = runner.invoke(cli_app, ["token", "list"])
    assert listed.exit_code == 0
    assert "ci-bot" in listed.stdout and prefix in listed.stdout
    assert secret not in listed.stdout  # shown once, at creation only
    revoked = runner.invoke(cli_app, ["token", "revoke", prefix])
    assert revoked.exit_code == 0 and "revoked ci-bot" in revoked.stdout
    with Session(engine) as s, pytest.raises(RevokedToken):
        verify_token(s, plaintext, now=NOW)
    assert "revoked" in runner.invoke(cli_app, ["token", "list"]).stdout
    missing = runner.invoke(cli_app, ["token", "revoke", "nobody"])
    assert missing.exit_code == 1 and "no token" in missing.stderr
    bad = runner.invoke(cli_app, ["token", "create", "--name", "x", "--scope", "admin"])
    assert bad.exit_code == 1 and "unknown scope" in bad.stderr
