"""``equicover cards``: issue and print by area, verify a payload offline, print the public key."""

from __future__ import annotations

from pathlib import Path

import pypdfium2 as pdfium
from sqlalchemy import func, select
from typer.testing import CliRunner

import equicover.tables  # noqa: F401  every table, as the equicover command loads them
from equicover.cards.cli import cards_app as app
from equicover.cards.models import MemberCard
from equicover.db.engine import make_engine
from equicover.db.migrate import upgrade
from equicover.db.session import make_session_factory
from tests import factories as make
from tests.cards.world import ISSUED_ON


def _database(url: str) -> None:
    upgrade(url)
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            make.vn_world(session)
            session.commit()
    finally:
        engine.dispose()


def _count(url: str) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return connection.scalar(select(func.count()).select_from(MemberCard)) or 0
    finally:
        engine.dispose()


def test_issue_by_area_writes_a_sheet_and_verify_reads_its_payload(empty_db_url: str, tmp_path: Path) -> None:
    _database(empty_db_url)
    sheet = tmp_path / "sheet.pdf"
    runner = CliRunner()
    issued = runner.invoke(
        app,
        ["issue", "--area", "LC", "--out", str(sheet), "--on", ISSUED_ON.isoformat(),
         "--database-url", empty_db_url],
    )  # fmt: skip
    assert issued.exit_code == 0, issued.output
    assert "3 card(s) issued in LC for scheme VN-SHI" in issued.output
    document = pdfium.PdfDocument(sheet.read_bytes())
    try:
        assert len(document) == 1
        text = document[0].get_textpage().get_text_range()
    finally:
        document.close()
    for name in ("Member One", "Member Two", "Member Four"):
        assert name in text
    assert _count(empty_db_url) == 3

    again = runner.invoke(
        app,
        ["issue", "--area", "LC", "--out", str(tmp_path / "none.pdf"), "--on", ISSUED_ON.isoformat(),
         "--database-url", empty_db_url],
    )  # fmt: skip
    assert "0 card(s) issued" in again.output

    engine = make_engine(empty_db_url)
    try:
        from equicover.cards.service import payload_of

        with make_session_factory(engine)() as session:
            card = session.scalars(select(MemberCard).order_by(MemberCard.id)).first()
            assert card is not None
            text_payload = payload_of(session=session, card=card)
    finally:
        engine.dispose()
    valid = runner.invoke(app, ["verify", text_payload, "--on", "2024-09-01"])
    assert valid.exit_code == 0, valid.output
    assert valid.output.startswith("valid:")
    expired = runner.invoke(app, ["verify", text_payload, "--on", "2025-07-01"])
    assert expired.exit_code == 1
    assert "expired: expired on 2025-06-30" in expired.output
    tampered = runner.invoke(app, ["verify", text_payload.replace("|P", "|H", 1), "--on", "2024-09-01"])
    assert tampered.exit_code == 1
    assert "invalid: the signature does not match" in tampered.output

    key_file = tmp_path / "published.pem"
    published = runner.invoke(app, ["public-key", "--scheme", "VN-SHI", "--database-url", empty_db_url])
    assert published.exit_code == 0, published.output
    key_file.write_text(published.output[published.output.index("-----BEGIN") :])
    with_key = runner.invoke(app, ["verify", text_payload, "--on", "2024-09-01", "--public-key", str(key_file)])
    assert with_key.exit_code == 0, with_key.output


def test_a_wrong_area_or_scheme_is_refused_and_nothing_is_issued(empty_db_url: str, tmp_path: Path) -> None:
    _database(empty_db_url)
    runner = CliRunner()
    unknown = runner.invoke(
        app, ["issue", "--area", "XX", "--out", str(tmp_path / "s.pdf"), "--database-url", empty_db_url]
    )
    assert unknown.exit_code == 1
    assert "location XX" in unknown.output
    assert not (tmp_path / "s.pdf").exists()
    no_scheme = runner.invoke(app, ["public-key", "--scheme", "NOPE", "--database-url", empty_db_url])
    assert no_scheme.exit_code == 1
    assert _count(empty_db_url) == 0
