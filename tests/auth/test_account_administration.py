"""Administrators list, disable, enable and reset accounts: on the command line, over REST and
on the web page. A disable or a reset ends the account's sessions at once in this process, for
claim submission's cached tokens too."""

from __future__ import annotations

from sqlalchemy import select
from typer.testing import CliRunner

from equicover.admin.service import create_user
from equicover.audit.models import ChangeLog
from equicover.auth.models import User
from tests import factories as make
from tests.api_helpers import TEST_PASSWORD, form_token, login_as, make_client


def _user_id(session_factory, username: str) -> int:
    with session_factory() as session:
        found = session.scalar(select(User.id).where(User.username == username))
        assert found is not None
        return found


def _sign_in(client, username: str, password: str = TEST_PASSWORD) -> int:
    return client.post("/api/v1/auth/token", json={"username": username, "password": password}).status_code


def test_rest_lists_disables_enables_and_resets_accounts(session_factory) -> None:
    with session_factory() as session:
        make.locations(session)
        make.provider(session, code="PA", location_code="D1")
        session.commit()
    client = make_client(session_factory=session_factory)
    admin = login_as(client, "admin", username="chief")
    clerk = login_as(client, "clerk", provider="PA", username="window-1")
    login_as(client, "registrar", area="D1", username="reg-d1")
    listed = client.get("/api/v1/users", headers=admin).json()
    by_name = {item["username"]: item for item in listed["items"]}
    assert listed["total"] == 3 and by_name["window-1"]["provider"] == "PA" and by_name["reg-d1"]["area"] == "D1"
    assert client.get("/api/v1/users", headers=clerk).status_code == 403
    clerk_id = by_name["window-1"]["id"]

    # The clerk's token is cached by claim submission; a disable ends it there at once.
    assert client.post("/api/v1/claims", json={}, headers=clerk).status_code == 422
    disabled = client.post(f"/api/v1/users/{clerk_id}/disable", headers=admin)
    assert disabled.status_code == 200 and disabled.json()["active"] is False
    assert client.post("/api/v1/claims", json={}, headers=clerk).status_code == 401
    assert client.get("/api/v1/auth/me", headers=clerk).status_code == 401
    assert _sign_in(client, "window-1") == 401
    assert client.get("/api/v1/users?active=false", headers=admin).json()["total"] == 1

    assert client.post(f"/api/v1/users/{clerk_id}/enable", headers=admin).json()["active"] is True
    assert _sign_in(client, "window-1") == 200

    reset = client.post(f"/api/v1/users/{clerk_id}/reset-password", headers=admin)
    assert reset.status_code == 200
    new_password = reset.json()["password"]
    assert len(new_password) >= 12 and _sign_in(client, "window-1") == 401
    assert _sign_in(client, "window-1", new_password) == 200
    chosen = client.post(f"/api/v1/users/{clerk_id}/reset-password", json={"password": "12345678"}, headers=admin)
    assert chosen.status_code == 422 and chosen.json()["field"] == "password"
    chosen = client.post(
        f"/api/v1/users/{clerk_id}/reset-password", json={"password": "seven tired owls at noon"}, headers=admin
    )
    assert chosen.status_code == 200 and chosen.json()["password"] is None

    chief = _user_id(session_factory, "chief")
    own = client.post(f"/api/v1/users/{chief}/disable", headers=admin)
    assert own.status_code == 409 and own.json()["field"] == "active"
    own_reset = client.post(f"/api/v1/users/{chief}/reset-password", headers=admin)
    assert own_reset.status_code == 409 and client.get("/api/v1/auth/me", headers=admin).status_code == 200
    assert client.post("/api/v1/users/999999/disable", headers=admin).status_code == 404
    with session_factory() as session:
        actions = list(
            session.scalars(
                select(ChangeLog.action).where(ChangeLog.entity == "users", ChangeLog.entity_id == clerk_id)
            )
        )
        logged = " ".join(str(after) for after in session.scalars(select(ChangeLog.after)))
    assert {"disable", "enable", "reset_password"} <= set(actions)
    assert new_password not in logged and "seven tired owls" not in logged


def test_the_command_line_lists_disables_enables_and_resets(cli_database: str) -> None:
    from equicover.cli import app

    runner = CliRunner()
    assert runner.invoke(app, ["users", "create", "--username", "root", "--role", "admin"]).exit_code == 0
    made = runner.invoke(
        app, ["users", "create", "--username", "auditor", "--role", "fund_manager", "--password", TEST_PASSWORD]
    )
    assert made.exit_code == 0
    listed = runner.invoke(app, ["users", "list"])
    assert listed.exit_code == 0 and "auditor" in listed.output and "2 account(s)" in listed.output
    assert runner.invoke(app, ["users", "disable", "auditor"]).exit_code == 0
    disabled = runner.invoke(app, ["users", "list", "--disabled"])
    assert "auditor" in disabled.output and "root" not in disabled.output and "disabled" in disabled.output
    assert runner.invoke(app, ["users", "enable", "auditor"]).exit_code == 0
    reset = runner.invoke(app, ["users", "reset-password", "auditor"])
    assert reset.exit_code == 0 and "password:" in reset.output
    weak = runner.invoke(app, ["users", "reset-password", "auditor", "--password", "auditor12345"])
    assert weak.exit_code == 1 and "username" in weak.output and "Traceback" not in weak.output
    unknown = runner.invoke(app, ["users", "disable", "nobody"])
    assert unknown.exit_code == 1 and "Traceback" not in unknown.output


def test_the_web_page_disables_enables_and_resets_in_the_admins_language(session_factory) -> None:
    client = make_client(session_factory=session_factory)
    with session_factory() as session:
        create_user(session=session, username="helper", password=TEST_PASSWORD, role="fund_manager")
        session.commit()
    helper = make_client(session_factory=session_factory)
    login_as(helper, "fund_manager", cookie=True)
    assert helper.get("/admin/users").status_code == 403
    login_as(client, "admin", username="boss-fr", language="fr", cookie=True)
    page = client.get("/admin/users")
    assert page.status_code == 200 and "Comptes" in page.text and "helper" in page.text
    helper_id = _user_id(session_factory, "helper")
    disabled = client.post(f"/admin/users/{helper_id}/disable", data={**form_token(client), "p": "1"})
    assert disabled.status_code == 200 and "Compte helper désactivé" in disabled.text
    assert _sign_in(client, "helper") == 401
    enabled = client.post(f"/admin/users/{helper_id}/enable", data={**form_token(client), "p": "1"})
    assert enabled.status_code == 200 and "Compte helper activé" in enabled.text
    reset = client.post(f"/admin/users/{helper_id}/reset-password", data={**form_token(client), "p": "1"})
    assert reset.status_code == 200 and "Nouveau mot de passe de helper" in reset.text
    assert _sign_in(client, "helper") == 401
    own = client.post(
        f"/admin/users/{_user_id(session_factory, 'boss-fr')}/disable", data={**form_token(client), "p": "1"}
    )
    assert own.status_code == 409 and "propre compte" in own.text
    # A form posted from another site is refused, as on every page.
    forged = client.post(
        f"/admin/users/{helper_id}/disable",
        data={**form_token(client), "p": "1"},
        headers={"Origin": "https://evil.example"},
    )
    assert forged.status_code == 403
    with session_factory() as session:
        assert session.scalar(select(User.active).where(User.id == helper_id)) is True
