"""The printed referral letter the patient carries: A4, the patient's name in its own script, the
referring and receiving facility, diagnosis, reason, date, the letter number as text and as a QR
code (for the receiving window to type or scan), and the counter-referral part, blank for the
receiving facility to fill in or printed once it is recorded."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from equicover.pdf import ShapedPdf, is_rtl
from equicover.providers.models import Provider
from equicover.referrals.models import ReferralLetter
from equicover.registry.models import Household, Person

MARGIN = 20.0
WIDTH = 210.0 - 2 * MARGIN


@dataclass(frozen=True, slots=True)
class _Facility:
    code: str
    name: str
    level: str


def _facility(session: Session, provider_id: int | None) -> _Facility | None:
    if provider_id is None:
        return None
    row = session.execute(
        select(Provider.code, Provider.name, Provider.level).where(Provider.id == provider_id)
    ).first()
    return _Facility(*row) if row is not None else None


def letter_pdf(*, session: Session, letter: ReferralLetter) -> bytes:
    person = session.get(Person, letter.person_id)
    assert person is not None
    household = session.get(Household, person.household_id)
    source = _facility(session, letter.from_provider_id)
    destination = _facility(session, letter.to_provider_id)
    receiver = _facility(session, letter.counter_by_provider_id)
    assert source is not None and household is not None

    pdf = ShapedPdf(title=f"Referral letter {letter.number}")
    pdf.add_page()
    pdf.set_draw_color(120, 120, 120)
    pdf.write_at(MARGIN, 18, WIDTH - 45, "Referral letter", 20)
    pdf.write_at(MARGIN, 28, WIDTH - 45, f"No. {letter.number}", 13)
    pdf.write_at(
        MARGIN, 35, WIDTH - 45, f"Issued on {letter.issued_on.isoformat()} by {source.name} ({source.code})", 9
    )
    pdf.qr_code(210 - MARGIN - 32, 14, 32, letter.number)

    def row(y: float, label: str, value: str, size: float = 11) -> None:
        pdf.write_at(MARGIN, y, 45, label, 8.5)
        pdf.write_at(MARGIN + 48, y - 0.6, WIDTH - 48, value, size, "R" if is_rtl(value) else "L")

    pdf.line(MARGIN, 50, 210 - MARGIN, 50)
    row(56, "Patient", person.full_name, 13)
    row(64, "Born", person.birth_date.isoformat())
    row(71, "Household", household.code)
    row(78, "Person id", f"P{person.id}")
    pdf.line(MARGIN, 86, 210 - MARGIN, 86)
    row(92, "From", f"{source.name} ({source.code}, {source.level})")
    target = (
        f"{destination.name} ({destination.code}, {destination.level})" if destination else f"Level: {letter.to_level}"
    )
    row(99, "To", target)
    row(106, "Diagnosis (ICD-10)", letter.diagnosis)
    pdf.write_at(MARGIN, 113, 45, "Reason", 8.5)
    pdf.set_xy(MARGIN + 48, 112.4)
    pdf.set_font(pdf.body_font, size=11)
    pdf.multi_cell(
        WIDTH - 48,
        5.5,
        letter.reason if pdf.unicode else letter.reason.encode("latin-1", "replace").decode("latin-1"),
        align="L",
    )
    row(140, "Status", letter.status.replace("_", "-"))
    pdf.write_at(
        MARGIN, 150, WIDTH, "The letter refers care from its date for the days the patient's scheme sets.", 8.5
    )
    pdf.write_at(MARGIN, 168, 80, "Signature and stamp of the referring facility", 8.5)
    pdf.line(MARGIN, 185, MARGIN + 80, 185)

    pdf.rect(MARGIN, 200, WIDTH, 70, style="D")
    pdf.write_at(MARGIN + 4, 204, WIDTH - 8, "Counter-referral (the receiving facility)", 11)
    if receiver is not None and letter.counter_on is not None:
        pdf.write_at(
            MARGIN + 4, 214, WIDTH - 8, f"{receiver.name} ({receiver.code}), {letter.counter_on.isoformat()}", 10
        )
        pdf.set_xy(MARGIN + 4, 222)
        pdf.set_font(pdf.body_font, size=10)
        pdf.multi_cell(WIDTH - 8, 5, letter.counter_note or "", align="L")
    else:
        for offset, label in enumerate(("Facility", "Date", "Care given and advice", "Signature and stamp")):
            pdf.write_at(MARGIN + 4, 216 + offset * 12, 50, label, 8.5)
            pdf.line(MARGIN + 50, 220 + offset * 12, 210 - MARGIN - 4, 220 + offset * 12)
    return bytes(pdf.output())
