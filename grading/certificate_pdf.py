"""Draw a certificate as a PDF (fpdf2), from what the certificate row states and nothing else.

A Unicode TrueType font (DejaVu Sans) is used when one is found, so names such as "Zoë
Łukasiewicz" print as written; without one, the PDF core font (Latin-1) is used and other
characters are replaced rather than failing the download.
"""

from __future__ import annotations

import logging
from pathlib import Path

from fpdf import FPDF

from grading.models import Certificate

# fpdf2 subsets the font with fontTools, which logs every glyph table at INFO.
logging.getLogger("fontTools").setLevel(logging.WARNING)


def _unicode_font_dir() -> Path | None:
    candidates = [Path("/usr/share/fonts/truetype/dejavu")]
    try:
        import matplotlib

        candidates.insert(0, Path(matplotlib.get_data_path()) / "fonts" / "ttf")
    except ImportError:
        pass
    for directory in candidates:
        if (directory / "DejaVuSans.ttf").exists() and (directory / "DejaVuSans-Bold.ttf").exists():
            return directory
    return None


def certificate_pdf(certificate: Certificate, *, verify_url: str) -> bytes:
    """The certificate as PDF bytes (A4 portrait)."""
    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    pdf.set_title(f"Certificate: {certificate.course_title}")
    pdf.set_author("Artefact")
    pdf.set_auto_page_break(auto=True, margin=20)
    font_dir = _unicode_font_dir()
    if font_dir is not None:
        pdf.add_font("DejaVu", "", str(font_dir / "DejaVuSans.ttf"))
        pdf.add_font("DejaVu", "B", str(font_dir / "DejaVuSans-Bold.ttf"))
        family = "DejaVu"

        def text(value: str) -> str:
            return value
    else:
        family = "Helvetica"

        def text(value: str) -> str:
            return value.encode("latin-1", "replace").decode("latin-1")

    pdf.add_page()
    pdf.set_draw_color(40, 60, 90)
    pdf.set_line_width(0.8)
    pdf.rect(8, 8, pdf.w - 16, pdf.h - 16)
    width = pdf.w - pdf.l_margin - pdf.r_margin
    pdf.set_font(family, "B", 26)
    pdf.ln(10)
    pdf.cell(width, 14, text("Certificate of completion"), align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, "", 13)
    pdf.ln(6)
    pdf.cell(width, 8, text("This certifies that"), align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, "B", 20)
    pdf.cell(width, 12, text(certificate.holder_name), align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, "", 13)
    pdf.cell(width, 8, text("has completed the course"), align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, "B", 16)
    pdf.multi_cell(
        width, 9, text(certificate.course_title), align="C", new_x="LMARGIN", new_y="NEXT"
    )
    pdf.set_font(family, "", 12)
    issued = certificate.issued_at.strftime("%d %B %Y")
    pdf.cell(width, 8, text(f"on {issued}"), align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(8)
    pdf.set_font(family, "B", 13)
    pdf.cell(
        width, 8, text("Modules and learning outcomes achieved"), new_x="LMARGIN", new_y="NEXT"
    )
    for module in certificate.modules:
        pdf.set_font(family, "B", 11)
        pdf.multi_cell(width, 6, text(module["title"]), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(family, "", 10)
        for outcome in module["outcomes"]:
            pdf.set_x(pdf.l_margin + 5)
            pdf.multi_cell(width - 5, 5, text(f"- {outcome}"), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)
    pdf.ln(6)
    pdf.set_font(family, "", 9)
    pdf.multi_cell(
        width,
        5,
        text(f"Verification code: {certificate.code}\nVerify at: {verify_url}"),
        new_x="LMARGIN",
        new_y="NEXT",
    )
    return bytes(pdf.output())
