"""The window's card check in Chromium: a card's QR code shown to the camera is read and verified in
the browser, online with the register's status, and offline (network cut) by its signature alone.

Debian's Chromium is given a fake camera that films a still image of the card's QR code
(``--use-file-for-fake-video-capture``, a Y4M file made here from the payload). Needs
``/usr/bin/chromium``; skipped loudly without it outside CI, as ``tests/web/test_browser.py``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import segno

from equicover.admin.service import create_user
from equicover.cards import service
from equicover.cards.keys import KEYS_ENV
from equicover.db.engine import make_engine
from equicover.db.migrate import upgrade
from equicover.db.session import make_session_factory, session_scope
from tests import factories as make
from tests.browser import chromium, need_chromium, served

PASSWORD = "correct horse battery"
sync_api = pytest.importorskip("playwright.sync_api")


@dataclass
class Site:
    base_url: str
    payload: str
    lost_payload: str
    folder: Path


def _camera_file(payload: str, path: Path, width: int = 640, height: int = 480) -> Path:
    """A Y4M video of one still frame: the payload's QR code, black on white, in the middle."""
    matrix = [list(row) for row in segno.make_qr(payload, error="m").matrix_iter(border=4)]
    scale = min(width, height) * 9 // 10 // len(matrix)
    left, top = (width - len(matrix) * scale) // 2, (height - len(matrix) * scale) // 2
    luma = bytearray(b"\xff" * (width * height))
    for row_index, row in enumerate(matrix):
        for column_index, dark in enumerate(row):
            if dark:
                for y in range(top + row_index * scale, top + (row_index + 1) * scale):
                    start = y * width + left + column_index * scale
                    luma[start : start + scale] = b"\x00" * scale
    chroma = b"\x80" * (width // 2 * height // 2)
    path.write_bytes(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode() + b"FRAME\n" + luma + chroma * 2)
    return path


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    need_chromium()
    folder = tmp_path_factory.mktemp("card-scan")
    keys = folder / "card-keys"
    database_url = f"sqlite:///{folder / 'web.db'}"
    upgrade(database_url)
    engine = make_engine(database_url)
    today = dt.date.today()
    with session_scope(make_session_factory(engine)) as session:
        world = make.vn_world(session)
        period = make.period(
            session,
            scheme_id=world.scheme_id,
            starts=today - dt.timedelta(days=30),
            ends=today + dt.timedelta(days=300),
        )
        for person_id in world.person_ids[:2]:
            make.enrolment(
                session, person_id=person_id, scheme_id=world.scheme_id, period_id=period.id,
                starts=period.starts, ends=period.ends,
            )  # fmt: skip
        create_user(session=session, username="window", password=PASSWORD, role="clerk", provider_code="PA")
        card = service.issue_card(
            session=session, scheme_code="VN-SHI", on=today, person_id=world.person_ids[0], key_directory=keys
        )
        lost = service.issue_card(
            session=session, scheme_code="VN-SHI", on=today, person_id=world.person_ids[1], key_directory=keys
        )
        service.set_status(session=session, card=lost, status="lost", on=today)
        payload = service.payload_of(session=session, card=card, key_directory=keys)
        lost_payload = service.payload_of(session=session, card=lost, key_directory=keys)
    engine.dispose()
    with served(folder, database_url, {KEYS_ENV: str(keys)}) as base_url:
        yield Site(base_url, payload, lost_payload, folder)


def _camera(camera: Path) -> tuple[str, ...]:
    """Chromium's switches that show this video file to the page as the camera, allowed unasked."""
    return (
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={camera}",
    )


def _signed_in_page(browser: object, site: Site) -> tuple[object, object]:
    context = browser.new_context(locale="en-US")  # type: ignore[attr-defined]
    context.grant_permissions(["camera"], origin=site.base_url)
    page = context.new_page()
    page.set_default_timeout(20_000)
    blocked: list[str] = []
    page.on(
        "console", lambda message: blocked.append(message.text) if "Content Security Policy" in message.text else None
    )
    context.csp_violations = blocked  # read by the tests: the page runs under the application's CSP
    page.goto(f"{site.base_url}/login")
    page.fill("#username", "window")
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.click("form.stack button[type=submit]")
    assert "/login" not in page.url
    return context, page


def test_a_card_shown_to_the_camera_is_read_and_verified(site: Site) -> None:
    camera = _camera_file(site.payload, site.folder / "card.y4m")
    with chromium(*_camera(camera)) as browser:
        context, page = _signed_in_page(browser, site)
        page.goto(f"{site.base_url}/window/scan")
        page.click("#scan-start")
        page.wait_for_selector("#scan-result[data-verdict='valid']")
        assert page.input_value("#scan-text") == site.payload
        assert "Valid card" in page.inner_text("#scan-verdict")
        page.click("#scan-open")
        page.wait_for_url("**/window/persons/**")
        assert context.csp_violations == []
        context.close()


def test_offline_the_signature_and_dates_decide_and_online_the_register_speaks(site: Site) -> None:
    camera = _camera_file(site.payload, site.folder / "idle.y4m")
    with chromium(*_camera(camera)) as browser:
        context, page = _signed_in_page(browser, site)
        page.goto(f"{site.base_url}/window/scan")
        # Online, the page keeps the scheme's key; a lost card is refused by the register.
        page.wait_for_function("() => (localStorage.getItem('equicover.cardKeys') || '').includes('VN-SHI')")
        page.fill("#scan-text", site.lost_payload)
        page.click("#scan-form button[type=submit]")
        page.wait_for_selector("#scan-result[data-verdict='invalid']")
        assert "reported lost" in page.inner_text("#scan-reason")

        context.set_offline(True)
        page.fill("#scan-text", site.payload)
        page.click("#scan-form button[type=submit]")
        page.wait_for_selector("#scan-result[data-verdict='valid']")
        assert "without the network" in page.inner_text("#scan-note")
        tampered = site.payload.replace("|P", "|H", 1)
        page.fill("#scan-text", tampered)
        page.click("#scan-form button[type=submit]")
        page.wait_for_selector("#scan-result[data-verdict='invalid']")
        assert "signature does not match" in page.inner_text("#scan-reason")
        digit = site.payload[20]  # inside the card number (after "EQC1|", the key id and "|")
        page.fill("#scan-text", site.payload[:20] + str((int(digit) + 1) % 10) + site.payload[21:])
        page.click("#scan-form button[type=submit]")
        page.wait_for_function("() => document.getElementById('scan-reason').textContent.includes('check digits')")
        assert context.csp_violations == []
        context.close()
