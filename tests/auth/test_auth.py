"""Users, passwords, tokens, the CLI and the demo accounts."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from equicover.admin.demo_accounts import create_demo_users
from equicover.admin.service import create_user
from equicover.auth import service
from equicover.auth.models import ApiToken, User
from equicover.errors import Conflict, Unauthorized, ValidationFailed
from tests import factories as make


def test_passwords_are_hashed_and_tokens_stored_only_as_hashes(session) -> None:
    make.locations(session)
    user = create_user(session=session, username="anna", password="s3cret-passphrase", role="verifier", area_code="D1")
    assert user.password_hash.startswith("$argon2id$") and "s3cret-passphrase" not in user.password_hash
    assert service.authenticate(session=session, username="anna", password="s3cret-passphrase").id == user.id
    with pytest.raises(Unauthorized):
        service.authenticate(session=session, username="anna", password="wrong-pass")
    with pytest.raises(Unauthorized):
        service.authenticate(session=session, username="nobody", password="s3cret-passphrase")
    token = service.issue_token(session=session, user=user)
    stored = session.scalar(select(ApiToken).where(ApiToken.user_id == user.id))
    assert stored is not None and token not in stored.token_hash and len(stored.token_hash) == 64
    assert service.resolve_token(session=session, token=token).id == user.id
    stored.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    with pytest.raises(Unauthorized):
        service.resolve_token(session=session, token=token)
    other = service.issue_token(session=session, user=user)
    service.revoke_token(session=session, token=other)
    with pytest.raises(Unauthorized):
        service.resolve_token(session=session, token=other)
    user.active = False
    third = service.issue_token(session=session, user=user)
    with pytest.raises(Unauthorized):
        service.resolve_token(session=session, token=third)


@pytest.mark.parametrize(
    ("role", "area", "provider", "field"),
    [
        ("clerk", None, None, "provider"),
        ("registrar", None, None, "area"),
        ("verifier", "NOPE", None, "area"),
        ("clerk", None, "NOPE", "provider"),
        ("wizard", None, None, "role"),
    ],
)
def test_accounts_need_a_valid_role_area_and_provider(session, role, area, provider, field) -> None:
    make.locations(session)
    make.provider(session, code="PA", location_code="D1")
    with pytest.raises(ValidationFailed) as refused:
        create_user(
            session=session,
            username="x",
            password="long enough phrase",
            role=role,
            area_code=area,
            provider_code=provider,
        )
    assert refused.value.field == field


def test_usernames_are_unique_and_creation_is_audited(session) -> None:
    create_user(session=session, username="bob", password="long enough phrase", role="admin", actor="root")
    with pytest.raises(Conflict):
        create_user(session=session, username="bob", password="long enough phrase", role="admin")
    with pytest.raises(ValidationFailed):
        create_user(session=session, username="carl", password="short", role="admin")
    from equicover.audit.models import ChangeLog

    row = session.scalar(select(ChangeLog).where(ChangeLog.entity == "users"))
    assert (
        row is not None
        and row.actor == "root"
        and "password" not in str(row.after)
        and "long enough phrase" not in str(row.after)
    )


def test_demo_users_cover_every_role_and_can_be_recreated(session) -> None:
    make.locations(session)
    make.scheme(session)
    make.provider(session, code="PA", location_code="D1")
    make.contract(session, provider_code="PA")
    first = create_demo_users(session=session)
    assert {user.role for user in first} == {"admin", "fund_manager", "analyst", "registrar", "verifier", "clerk"}
    again = create_demo_users(session=session)
    for user in again:
        assert service.authenticate(session=session, username=user.username, password=user.password).role == user.role
    assert session.scalar(select(User).where(User.username == "demo-clerk")).provider_id is not None


def test_users_create_command(cli_database: str) -> None:
    from equicover.cli import app

    runner = CliRunner()
    made = runner.invoke(app, ["users", "create", "--username", "root", "--role", "admin"])
    assert made.exit_code == 0 and "password:" in made.output
    duplicate = runner.invoke(app, ["users", "create", "--username", "root", "--role", "admin"])
    assert duplicate.exit_code == 1 and "exists" in duplicate.output and "Traceback" not in duplicate.output
    bad = runner.invoke(app, ["users", "create", "--username", "c", "--role", "clerk"])
    assert bad.exit_code == 1
