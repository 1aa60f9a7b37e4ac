"""``equicover cards``: issue and print cards by area, verify a QR payload, publish a scheme's key,
suspend the cards of members whose own contribution is unpaid (and reactivate them once paid),
record a contribution's payment (the member's cards follow it at once)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import typer
from sqlalchemy import select

from equicover.cards import keys, service
from equicover.cards.payload import verify as verify_payload_offline
from equicover.cards.sheet import card_sheet_pdf
from equicover.commands import ACTOR_OPTION, DATABASE_URL_OPTION, console, migrated_session_factory, parse_date
from equicover.db.session import session_scope
from equicover.enrolment.models import Enrolment, Scheme
from equicover.enrolment.service import get_scheme, set_contribution_status
from equicover.errors import EquicoverError

cards_app = typer.Typer(
    no_args_is_help=True, help="Member cards: issue and print, verify, publish the key, suspend the unpaid."
)


@cards_app.command("issue")
def issue(
    area: str = typer.Option(..., "--area", help="Location code: every holder in it and below."),
    out: Path = typer.Option(..., "--out", help="The card sheet to write (PDF, ten cards per A4 page)."),
    scheme: str | None = typer.Option(None, "--scheme", help="Scheme code (default: the only scheme)."),
    on: str | None = typer.Option(None, "--on", help="Issue date (default: today)."),
    actor: str = ACTOR_OPTION,
    database_url: str | None = DATABASE_URL_OPTION,
) -> None:
    """Issue a card to every holder of AREA enrolled in the scheme who has no valid card, and print them."""
    issue_date = parse_date(on, "--on") if on is not None else dt.date.today()
    try:
        with migrated_session_factory(database_url) as factory, session_scope(factory) as session:
            scheme_code = scheme
            if scheme_code is None:
                codes = list(session.scalars(select(Scheme.code).order_by(Scheme.code)))
                if len(codes) != 1:
                    console.print(f"[red]--scheme: name one of the schemes: {', '.join(codes) or 'none stored'}[/]")
                    raise typer.Exit(2)
                scheme_code = codes[0]
            cards = service.issue_for_area(
                session=session, area_code=area, scheme_code=scheme_code, on=issue_date, actor=actor
            )
            printed = service.printed_cards(session=session, cards=cards)
            out.write_bytes(card_sheet_pdf(printed))
    except EquicoverError as error:
        console.print(f"[red]{error.message}[/]")
        raise typer.Exit(1) from None
    console.print(f"{len(printed)} card(s) issued in {area} for scheme {scheme_code}; sheet written to {out}")


@cards_app.command("suspend-unpaid")
def suspend_unpaid(
    on: str | None = typer.Option(None, "--on", help="The day to judge on (default: today)."),
    actor: str = ACTOR_OPTION,
    database_url: str | None = DATABASE_URL_OPTION,
) -> None:
    """Suspend the cards of vulnerable members whose own contribution is unpaid past the grace
    (equicover/cards/suspension.toml), and make active again those paid since."""
    day = parse_date(on, "--on") if on is not None else dt.date.today()
    try:
        with migrated_session_factory(database_url) as factory, session_scope(factory) as session:
            run = service.suspend_unpaid(session=session, on=day, actor=actor)
    except EquicoverError as error:
        console.print(f"[red]{error.message}[/]")
        raise typer.Exit(1) from None
    grace = service.suspension_rules().grace_days
    console.print(
        f"{day.isoformat()}: {len(run.suspended)} card(s) suspended (own contribution unpaid over {grace} days), "
        f"{len(run.reactivated)} reactivated (paid since)"
    )


@cards_app.command("contribution-paid")
def contribution_paid(
    contribution_id: int = typer.Argument(..., min=1, max=2**31 - 1, help="The contribution's id."),
    status: str = typer.Option("paid", "--status", help="paid, or waived (or due, to undo a mistaken payment)."),
    on: str | None = typer.Option(None, "--on", help="The day the cards are judged on (default: today)."),
    actor: str = ACTOR_OPTION,
    database_url: str | None = DATABASE_URL_OPTION,
) -> None:
    """Record that a contribution is paid (or waived), and re-check the member's cards at once:
    a card suspended for it is active again in the same transaction."""
    day = parse_date(on, "--on") if on is not None else dt.date.today()
    try:
        with migrated_session_factory(database_url) as factory, session_scope(factory) as session:
            row = set_contribution_status(session=session, contribution_id=contribution_id, status=status, actor=actor)
            enrolled = session.get(Enrolment, row.enrolment_id)
            assert enrolled is not None  # a contribution hangs off its enrolment
            run = service.suspend_unpaid(session=session, on=day, actor=actor, person_id=enrolled.person_id)
    except EquicoverError as error:
        console.print(f"[red]{error.message}[/]")
        raise typer.Exit(1) from None
    console.print(
        f"contribution {contribution_id}: {status}; {len(run.reactivated)} card(s) reactivated, "
        f"{len(run.suspended)} suspended"
    )


@cards_app.command("verify")
def verify(
    text: str = typer.Argument(..., help="The QR payload, as scanned."),
    on: str | None = typer.Option(None, "--on", help="Check validity on this date (default: today)."),
    public_key: Path | None = typer.Option(
        None, "--public-key", help="A published key file (PEM or base64url) instead of the scheme's key file."
    ),
) -> None:
    """Say whether a card's payload is valid, invalid or expired, and why (no database needed)."""
    check_date = parse_date(on, "--on") if on is not None else dt.date.today()
    if public_key is not None:
        try:
            published = keys.load_public_key(public_key.read_text(encoding="ascii"))
        except (OSError, ValueError, UnicodeDecodeError):
            console.print("[red]--public-key: not a readable Ed25519 public key (PEM or base64url)[/]")
            raise typer.Exit(2) from None
        result = verify_payload_offline(
            text,
            on=check_date,
            public_key_of=lambda _scheme, key_id: published if keys.key_id_of(published) == key_id else None,
        )
    else:
        result = verify_payload_offline(text, on=check_date, public_key_of=service.published_key)
    colour = "green" if result.verdict == "valid" else "red"
    console.print(f"[{colour}]{result.verdict}[/]: {result.reason}")
    if result.face is not None and result.verdict != "invalid":
        face = result.face
        console.print(
            f"card {face.number}, holder {face.holder}, scheme {face.scheme}, category {face.category or '-'}"
        )
    if result.verdict != "valid":
        raise typer.Exit(1)


@cards_app.command("public-key")
def public_key(
    scheme: str = typer.Option(..., "--scheme", help="Scheme code."),
    database_url: str | None = DATABASE_URL_OPTION,
) -> None:
    """Print the scheme's public key (PEM and base64url) for facilities and other programmes to verify cards."""
    try:
        with migrated_session_factory(database_url) as factory, session_scope(factory) as session:
            get_scheme(session=session, code=scheme)  # a key only for a scheme that exists
        key = keys.scheme_key(scheme)
    except EquicoverError as error:
        console.print(f"[red]{error.message}[/]")
        raise typer.Exit(1) from None
    console.print(f"scheme {scheme}, Ed25519, key id {key.key_id}")
    console.print(f"base64url: {key.public_base64url()}")
    print(key.public_pem(), end="")  # noqa: T201  the PEM itself, unstyled, for a file or a pipe
