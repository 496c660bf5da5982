"""Generate small test PDFs with fpdf2 and pypdf (no binary fixtures in the repo).

fpdf2's core Helvetica font covers Latin-1, which has all Dutch diacritics we need
(é, ë, ï, ü, ó); the ligature "ĳ" is not in it, so texts spell it "ij" as most do.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

from fpdf import FPDF
from pypdf import PdfReader, PdfWriter

HEADER = "Gemeente Voorbeeldstad - Beleidsnota wijkaanpak"
FOOTER = "Pagina {page} van {pages}"

# Page texts as lines; "" is a paragraph break. Hyphenated line ends are deliberate.
DUTCH_PAGES: list[list[str]] = [
    [
        "Beleidsnota leefbaarheid in de wijk",
        "",
        "De gemeente is verant-",
        "woordelijk voor een veilige openbare ruimte in Noord-",
        "Holland en werkt samen met corporaties.",
        "",
        "Het café op de hoek krijgt een reële kans.",
    ],
    [
        "Bewoners zijn naïef noch onverschillig over overlast.",
        "",
        "De coördinator overlegt met de Ümit-stichting",
        "over de financiële bijdrage voor 2024.",
    ],
    [
        "Het college evalueert de aanpak jaarlijks met de gemeenteraad",
        "en rapporteert over de resultaten.",
    ],
]


def write_text_pdf(
    path: Path,
    pages: Sequence[Sequence[str]],
    *,
    header: str | None = None,
    footer: str | None = None,
    title: str | None = None,
) -> Path:
    """A PDF with one line of text per `cell`; header/footer may use {page} and {pages}."""
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(False)
    if title is not None:
        pdf.set_title(title)
    for number, lines in enumerate(pages, start=1):
        pdf.add_page()
        pdf.set_font("Helvetica", size=11)
        if header:
            _line(pdf, header.format(page=number, pages=len(pages)))
            pdf.ln(6)
        for line in lines:
            # Word writes a space on empty lines, which pypdf returns as a blank line;
            # that blank line is how the loader finds paragraph breaks.
            _line(pdf, line or " ")
        if footer:
            pdf.set_y(-20)
            _line(pdf, footer.format(page=number, pages=len(pages)))
    pdf.output(str(path))
    return path


def _letters(number: int) -> str:
    return "".join(chr(ord("a") + int(digit)) for digit in str(number))


def _line(pdf: FPDF, text: str) -> None:
    pdf.cell(0, 6, text, new_x="LMARGIN", new_y="NEXT")


def dutch_pdf(directory: Path, name: str = "beleidsnota.pdf") -> Path:
    """Three pages of Dutch text with diacritics, hyphenation, header and footer."""
    return write_text_pdf(directory / name, DUTCH_PAGES, header=HEADER, footer=FOOTER)


def many_pages_pdf(directory: Path, page_count: int = 60) -> Path:
    """Each page says which page it is in letters ("pagina bc" = 12): digits would make
    every page's text look like the same running header."""
    pages = [
        [f"Dit is de tekst van pagina {_letters(n)}.", "", f"Slot van pagina {_letters(n)}."]
        for n in range(1, page_count + 1)
    ]
    return write_text_pdf(directory / "veel_paginas.pdf", pages, header=HEADER, footer=FOOTER)


def _save(writer: PdfWriter, target: Path) -> Path:
    with target.open("wb") as handle:
        writer.write(handle)
    return target


def labelled_pdf(directory: Path) -> Path:
    """Five pages: roman labels i, ii for the front matter, then 1, 2, 3."""
    pages = [["Voorwoord bij de nota."], ["Inhoudsopgave."]] + [
        [f"Hoofdtekst over {topic}."] for topic in ("wonen", "werken", "zorg")
    ]
    source = write_text_pdf(directory / "_unlabelled.pdf", pages)
    writer = PdfWriter(clone_from=PdfReader(source))
    writer.set_page_label(0, 1, style="/r")
    writer.set_page_label(2, 4, style="/D", start=1)
    return _save(writer, directory / "met_paginalabels.pdf")


def outlined_pdf(directory: Path) -> Path:
    """Three pages with bookmarks "Inleiding" (p. 1) and "Aanpak" (heading on p. 2)."""
    pages = [
        ["Inleiding", "", "De nota beschrijft de wijkaanpak."],
        ["Slot van de inleiding.", "", "Aanpak", "", "De aanpak begint bij bewoners."],
        ["Meer over de aanpak."],
    ]
    source = write_text_pdf(directory / "_no_outline.pdf", pages)
    writer = PdfWriter(clone_from=PdfReader(source))
    writer.add_outline_item(title="Inleiding", page_number=0)
    writer.add_outline_item(title="Aanpak", page_number=1)
    return _save(writer, directory / "met_bladwijzers.pdf")


def encrypted_pdf(directory: Path, *, user_password: str = "geheim") -> Path:
    """Encrypted with AES-256; an empty user password gives a PDF anyone can open."""
    source = dutch_pdf(directory, "_plain.pdf")
    writer = PdfWriter(clone_from=PdfReader(source))
    writer.encrypt(user_password=user_password, owner_password="eigenaar", algorithm="AES-256")
    name = "versleuteld.pdf" if user_password else "versleuteld_leeg_wachtwoord.pdf"
    return _save(writer, directory / name)


def image_only_pdf(directory: Path) -> Path:
    """Pages with drawings only, like a scan: there is no text layer at all."""
    pdf = FPDF(format="A4")
    for _ in range(2):
        pdf.add_page()
        pdf.set_fill_color(40, 40, 40)
        pdf.rect(20, 20, 170, 40, style="F")
        pdf.rect(20, 80, 120, 10, style="F")
    path = directory / "scan.pdf"
    pdf.output(str(path))
    return path


def truncated_pdf(directory: Path, keep_fraction: float = 0.3) -> Path:
    """The first part of a valid PDF, as left by an interrupted download."""
    data = dutch_pdf(directory, "_whole.pdf").read_bytes()
    path = directory / "afgebroken.pdf"
    path.write_bytes(data[: int(len(data) * keep_fraction)])
    return path


def garbage_pdf(directory: Path) -> Path:
    """Starts like a PDF but is noise after the header."""
    path = directory / "kapot.pdf"
    path.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 8)
    return path


def page_texts(path: Path) -> list[str]:
    """Raw pypdf text per page, for checking what the generator produced."""
    reader = PdfReader(io.BytesIO(path.read_bytes()))
    return [page.extract_text() for page in reader.pages]
