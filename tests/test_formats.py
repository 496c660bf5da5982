"""RTF and PPTX loaders and the skipped-file report, on files generated here.

The RTF memo is written the way Word writes one (stylesheet with heading styles, info
title, header, logo as hex picture data, page breaks, a table, cp1252 escapes and \\u
escapes); the PPTX is built with python-pptx (titles, bullets on two levels, a table,
notes, a footer placeholder, a repeated title and an untitled slide). Corrupt variants
are made from them: truncated, renamed, password-protected (an OLE container with an
EncryptedPackage stream, as Office stores it) and empty.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import docx
import pytest
from pptx import Presentation
from pptx.util import Inches

from bronwijzer.domain import IngestError
from ingest.load import load_document, scan
from tests.conftest import PROJECT, SAMPLE

SENTENCES = [
    "De gemeente wil de aanpak in de wijk Noordoost versterken.",
    "Het café aan de Coöperatieweg is een belangrijke ontmoetingsplek voor bewoners.",
    "Bewoners noemen de ‘sociale herovering’ van de openbare ruimte als eerste wens.",
    "De financiële bijdrage van het Rijk is reëel maar niet structureel.",
    "Wijkagenten en jongerenwerkers werken samen in één team.",
    "Het budget voor 2025 bedraagt € 12.500 per buurt.",
    "De evaluatie laat zien dat kleine projecten snel resultaat geven.",
    "Coördinatie tussen de afdelingen blijft een aandachtspunt.",
    "De raad wordt in het najaar geïnformeerd over de voortgang.",
    "Ook naïeve verwachtingen over snelle resultaten moeten worden bijgesteld.",
]
MEMO_SECTIONS = [
    (1, "1. Aanleiding", 6),
    (1, "2. Analyse", 5),
    (2, "2.1 Cijfers per buurt", 4),
    (1, "3. Voorstel", 6),
    (2, "3.1 Planning", 4),
]


def _paragraph(n: int) -> str:
    return " ".join(SENTENCES[(n + k) % len(SENTENCES)] for k in range(4))


def _rtf_escape(text: str) -> str:
    out = []
    for char in text:
        if char in "\\{}":
            out.append("\\" + char)
        elif ord(char) < 128:
            out.append(char)
        elif char == "‘":
            out.append("\\lquote ")
        elif char == "’":
            out.append("\\rquote ")
        elif char in "éë":  # Word writes Latin-1 letters as cp1252 hex escapes
            out.append(f"\\'{char.encode('cp1252')[0]:02x}")
        else:  # and the rest as \uN with a fallback character
            out.append(f"\\u{ord(char)}?")
    return "".join(out)


def memo_rtf(path: Path, *, styles: bool = True) -> Path:
    """A three-page memo as Word writes it; styles=False marks headings only with
    \\outlinelevel, as some converters do."""
    style = "\\s{level}\\outlinelevel{outline}" if styles else "\\outlinelevel{outline}"
    parts = [
        "{\\rtf1\\ansi\\ansicpg1252\\deff0\\uc1{\\fonttbl{\\f0\\froman\\fcharset0 Times New "
        "Roman;}}{\\colortbl;\\red0\\green0\\blue0;}",
        "{\\stylesheet{\\s0\\ql\\snext0 Normal;}{\\s1\\ql\\outlinelevel0\\b\\fs32\\sbasedon0"
        "\\snext0 heading 1;}{\\s2\\ql\\outlinelevel1\\b\\fs28\\sbasedon0\\snext0 heading 2;}"
        "{\\*\\cs10\\additive Default Paragraph Font;}}",
        "{\\info{\\title Memo wijkaanpak Noordoost}{\\author Gemeente Voorbeeld}}",
        "{\\header\\pard\\plain\\s0 Gemeente Voorbeeld \\endash  vertrouwelijk\\par}",
        "{\\*\\themedata " + "504b0304" * 400 + "}",
        "\\pard\\plain{\\pict\\pngblip\\picw100\\pich100 " + "89504e470d0a1a0a" * 300 + "}\\par",
    ]
    n = 0
    for index, (level, heading, paragraphs) in enumerate(MEMO_SECTIONS):
        if index in (2, 4):
            parts.append("\\pard\\plain\\page")
        props = style.format(level=level, outline=level - 1)
        parts.append(f"\\pard\\plain{props}\\b\\fs32 {_rtf_escape(heading)}\\par")
        for _ in range(paragraphs):
            parts.append(f"\\pard\\plain\\s0\\fs24 {_rtf_escape(_paragraph(n))}\\par")
            n += 1
        if index == 2:
            for row in (("Buurt", "Budget", "Jaar"), ("Noord", "€ 12.500", "2025"),
                        ("Oost", "€ 9.750", "2025")):
                cells = "".join(f"\\pard\\intbl {_rtf_escape(cell)}\\cell " for cell in row)
                parts.append(f"\\trowd\\cellx2000\\cellx4000\\cellx6000 {cells}\\row")
    parts.append("}")
    path.write_text("\n".join(parts), "ascii")
    return path


def slides_pptx(path: Path) -> Path:
    """Six slides: title slide, bullets, a table, a title used twice, an untitled slide."""
    deck = Presentation()
    deck.core_properties.title = "Wijkaanpak Noordoost 2025"
    layouts = deck.slide_layouts

    def slide(layout: int, title: str | None, notes: str | None = None):
        new = deck.slides.add_slide(layouts[layout])
        if title is not None:
            new.shapes.title.text = title
        if notes:
            new.notes_slide.notes_text_frame.text = notes
        footer = next(p for p in layouts[layout].placeholders
                      if p.placeholder_format.type.name == "FOOTER")
        new.shapes.clone_placeholder(footer)
        new.placeholders[11].text = "Gemeente Voorbeeld · intern"
        return new

    first = slide(0, "Wijkaanpak Noordoost", "Welkom heten en het doel van de sessie noemen.")
    first.placeholders[1].text = "Presentatie aan de raadscommissie, café De Hoek"
    for number, title in ((2, "Aanleiding"), (3, "Wat bewoners zeggen"), (5, "Planning"),
                          (6, "Planning")):
        body = slide(1, title, f"Sprekersnotitie bij dia {number}: {SENTENCES[number]}")
        frame = body.placeholders[1].text_frame
        frame.text = SENTENCES[number - 1]
        for k, sentence in enumerate(SENTENCES[number : number + 3]):
            item = frame.add_paragraph()
            item.text, item.level = sentence, k % 2
        if number == 3:  # the table slide comes after this one
            table_slide = slide(5, "Budget per buurt")
            rows = (("Buurt", "Budget"), ("Noord", "€ 12.500"), ("Oost", "€ 9.750"))
            shape = table_slide.shapes.add_table(3, 2, Inches(1), Inches(2), Inches(6),
                                                 Inches(2))
            for r, row in enumerate(rows):
                for c, value in enumerate(row):
                    shape.table.cell(r, c).text = value
    loose = slide(6, None)
    loose.shapes.add_textbox(Inches(1), Inches(1), Inches(6), Inches(1)).text_frame.text = (
        "Vragen? Mail naar wijkaanpak@voorbeeld.nl.")
    deck.save(path)
    return path


def ole_file(path: Path, streams: dict[str, bytes]) -> Path:
    """A compound file (CFB v3, 512-byte sectors) with the given streams of >= 4096 bytes,
    the container Office uses for .ppt and for password-protected .pptx."""
    free, end, fat_sector, nostream = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF
    fat, data, entries = [fat_sector, end], b"", []
    for name, content in streams.items():
        content += bytes(-len(content) % 512)
        start = 2 + len(data) // 512
        count = len(content) // 512
        fat += [*range(start + 1, start + count), end]
        entries.append((name, 2, start, len(content)))
        data += content

    def entry(name: str, kind: int, child: int, right: int, start: int, size: int) -> bytes:
        encoded = (name + "\0").encode("utf-16-le")
        return (encoded.ljust(64, b"\0") + struct.pack("<HBB3I", len(encoded), kind, 1,
                nostream, right, child) + bytes(36) + struct.pack("<IQ", start, size))

    directory = entry("Root Entry", 5, 1, nostream, end, 0)
    for i, (name, kind, start, size) in enumerate(entries, start=1):
        right = i + 1 if i < len(entries) else nostream  # names sorted by length
        directory += entry(name, kind, nostream, right, start, size)
    directory = directory.ljust(512, b"\0")
    header = (bytes.fromhex("d0cf11e0a1b11ae1") + bytes(16)
              + struct.pack("<HHHHH6xIIIIIIIII", 0x3E, 3, 0xFFFE, 9, 6, 0, 1, 1, 0, 4096,
                            end, 0, end, 0)
              + struct.pack("<I", 0) + struct.pack("<I", free) * 108)
    fat_bytes = struct.pack(f"<{len(fat)}I", *fat).ljust(512, b"\xff")
    path.write_bytes(header + fat_bytes + directory + data)
    return path


# --------------------------------------------------------------------------- RTF


def test_rtf_memo_headings_accents_table_and_title(tmp_path: Path) -> None:
    document = load_document(memo_rtf(tmp_path / "memo.rtf"))
    assert document.title == "Memo wijkaanpak Noordoost"
    texts = [b.text for b in document.blocks]
    assert len(texts) == sum(p for _, _, p in MEMO_SECTIONS) + 3  # + three table rows
    joined = "\n".join(texts)
    for word in ("café", "Coöperatieweg", "financiële", "‘sociale herovering’", "€ 12.500",
                 "één", "geïnformeerd"):
        assert word in joined, word
    assert "Buurt | Budget | Jaar" in texts and "Noord | € 12.500 | 2025" in texts
    assert "vertrouwelijk" not in joined and "504b" not in joined  # header and blobs
    sections = {b.section for b in document.blocks}
    assert ("2. Analyse", "2.1 Cijfers per buurt") in sections
    assert ("3. Voorstel", "3.1 Planning") in sections
    assert all(b.page is None for b in document.blocks) and document.pages is None


def test_rtf_outline_levels_alone_make_headings(tmp_path: Path) -> None:
    document = load_document(memo_rtf(tmp_path / "memo.rtf", styles=False))
    assert ("3. Voorstel", "3.1 Planning") in {b.section for b in document.blocks}


@pytest.mark.parametrize(("make", "phrase"), [
    (lambda raw: raw[: len(raw) // 2], "RTF file is incomplete (truncated?)"),
    (lambda raw: b"Dit is gewone tekst met de extensie .rtf.\n", "not a valid RTF file"),
    (lambda raw: b"{\\rtf1\\ansi{\\fonttbl{\\f0 Arial;}}\\pard\\par}", "no text found"),
    (lambda raw: raw[:0], "empty file (0 bytes)"),
])
def test_broken_rtf(tmp_path: Path, make, phrase: str) -> None:
    raw = memo_rtf(tmp_path / "goed.rtf").read_bytes()
    broken = tmp_path / "kapot.rtf"
    broken.write_bytes(make(raw))
    _expect_error(broken, phrase)


def test_rtf_binary_picture_payload_with_braces_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "plaatje.rtf"
    path.write_bytes(b"{\\rtf1\\ansi{\\pict\\wmetafile8\\bin6 {{}}}x}"
                     b"\\pard Tekst na het plaatje.\\par}")
    assert [b.text for b in load_document(path).blocks] == ["Tekst na het plaatje."]


def test_docx_renamed_to_rtf_says_what_it_is(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_paragraph("Tekst")
    document.save(tmp_path / "nota.rtf")
    _expect_error(tmp_path / "nota.rtf", "zip file, probably DOCX")


# --------------------------------------------------------------------------- PPTX


def test_pptx_one_locator_per_slide_with_title_section_and_notes(tmp_path: Path) -> None:
    document = load_document(slides_pptx(tmp_path / "deck.pptx"))
    assert document.title == "Wijkaanpak Noordoost 2025" and document.pages == 7
    assert {b.page for b in document.blocks} == set(range(1, 8))
    by_page = {page: [b for b in document.blocks if b.page == page] for page in range(1, 8)}
    assert by_page[2][0].section == ("Aanleiding",)
    assert by_page[2][0].text == SENTENCES[1]  # title left out of the body, bullets in order
    assert [b.text for b in by_page[4]] == ["Buurt | Budget", "Noord | € 12.500",
                                           "Oost | € 9.750"]
    assert by_page[5][0].section == ("Planning",)
    assert by_page[6][0].section == ("Planning (dia 6)",)  # repeated title kept apart
    assert by_page[7][0].section == ("Dia 7",) and "Vragen?" in by_page[7][0].text
    notes = [b for b in by_page[3] if b.section[-1:] == ("Notities",)]
    assert notes and notes[0].section == ("Wat bewoners zeggen", "Notities")
    assert "Sprekersnotitie bij dia 3" in notes[0].text
    assert not any("intern" in b.text for b in document.blocks)  # footer placeholder
    assert "café De Hoek" in by_page[1][0].text


def test_pptx_template_title_gives_way_to_the_first_slide_title(tmp_path: Path) -> None:
    deck = Presentation()
    deck.core_properties.title = "PowerPoint-presentatie"  # PowerPoint's default
    only = deck.slides.add_slide(deck.slide_layouts[5])
    only.shapes.title.text = "Wijkbudget 2025"
    only.shapes.add_textbox(Inches(1), Inches(2), Inches(6), Inches(1)).text_frame.text = (
        "Het budget per buurt blijft gelijk.")
    deck.save(tmp_path / "budget.pptx")
    assert load_document(tmp_path / "budget.pptx").title == "Wijkbudget 2025"


@pytest.mark.parametrize(("kind", "phrase"), [
    ("not_zip", "not a valid PPTX file (not a zip archive)"),
    ("truncated", "not a valid PPTX file"),
    ("other_zip", "not a valid PPTX file"),
    ("encrypted", "password-protected"),
    ("old_ppt", "old PowerPoint format (.ppt)"),
    ("no_slides", "presentation has no slides"),
    ("no_text", "no text found"),
])
def test_broken_pptx(tmp_path: Path, kind: str, phrase: str) -> None:
    path = tmp_path / "kapot.pptx"
    if kind == "not_zip":
        path.write_text("geen presentatie", "utf-8")
    elif kind == "truncated":
        path.write_bytes(slides_pptx(tmp_path / "goed.pptx").read_bytes()[:20_000])
    elif kind == "other_zip":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("notities.txt", "geen PowerPoint")
    elif kind == "encrypted":
        ole_file(path, {"EncryptedInfo": os.urandom(4096),
                        "EncryptedPackage": struct.pack("<Q", 30_000) + os.urandom(8192)})
    elif kind == "old_ppt":
        ole_file(path, {"PowerPoint Document": os.urandom(4096)})
    else:
        deck = Presentation()
        if kind == "no_text":
            deck.slides.add_slide(deck.slide_layouts[6])
        deck.save(path)
    _expect_error(path, phrase)


# --------------------------------------------------------------------------- discovery


def test_scan_lists_every_file_it_does_not_load(tmp_path: Path) -> None:
    for name in ("nota.md", "onbekend.xyz", "LEESMIJ", "Thumbs.db", "~$nota.docx",
                 ".DS_Store", ".geheim.md", "._nota.md", ".~lock.nota.odt#", "sub/deck.pptx"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("x")
    (tmp_path / ".git" / "objects").mkdir(parents=True)
    for n in range(3):
        (tmp_path / ".git" / "objects" / f"{n}").write_text("x")
    (tmp_path / "link").symlink_to(tmp_path / "sub", target_is_directory=True)
    found = scan([tmp_path, tmp_path / "onbekend.xyz"])
    assert [f.name for f in found.files] == ["nota.md", "deck.pptx"]
    reasons = {Path(s.path).name: s.reason for s in found.skipped}
    assert reasons == {
        "onbekend.xyz": "format .xyz wordt niet ondersteund",
        "LEESMIJ": "bestand zonder extensie: format wordt niet ondersteund",
        "Thumbs.db": "systeembestand (miniaturen van Windows), geen document",
        "~$nota.docx": "tijdelijk vergrendelbestand van Office (~$), geen document",
        ".DS_Store": "systeembestand (mapinstellingen van macOS), geen document",
        ".geheim.md": "verborgen bestand (naam begint met een punt)",
        "._nota.md": "metadata van macOS (._), geen document",
        ".~lock.nota.odt#": "vergrendelbestand van LibreOffice, geen document",
        ".git": "verborgen map (naam begint met een punt), niet doorzocht: 3 bestanden",
        "link": "koppeling naar een map, niet gevolgd",
    }
    assert found.errors == [] and len(found.skipped) == len(reasons)  # explicit: no duplicate


# --------------------------------------------------------------------------- end to end


def _ingest(folder: Path, index: Path, code: int) -> dict:
    env = os.environ | {"PYTHONPATH": str(PROJECT)}
    result = subprocess.run([sys.executable, "-m", "cli", "ingest", str(folder), "--index",
                             str(index), "--json"], env=env, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == code, result.stderr[-3000:]
    return json.loads(result.stdout)


@pytest.mark.slow
def test_folder_with_xyz_rtf_pptx_and_good_files_reports_all(tmp_path: Path) -> None:
    folder = tmp_path / "map"
    folder.mkdir()
    memo_rtf(folder / "memo_wijkaanpak.rtf")
    slides_pptx(folder / "presentatie_wijkaanpak.pptx")
    (folder / SAMPLE.name).write_text(SAMPLE.read_text("utf-8"), "utf-8")
    (folder / "onbekend.xyz").write_bytes(b"\x00\x01 onbekend formaat")
    (folder / "Thumbs.db").write_bytes(bytes(64))
    (folder / "~$mo_wijkaanpak.docx").write_bytes(bytes(162))
    report = _ingest(folder, tmp_path / "index", code=0)  # skipped files: still exit 0
    by_name = {f["document"]: f for f in report["files"]}
    assert set(by_name) == {p.name for p in folder.iterdir()}  # every file is listed
    assert by_name["onbekend.xyz"]["status"] == "skipped"
    assert by_name["onbekend.xyz"]["reason"] == "format .xyz wordt niet ondersteund"
    assert by_name["Thumbs.db"]["status"] == by_name["~$mo_wijkaanpak.docx"]["status"]
    assert report["summary"]["skipped"] == 3 and report["summary"]["failed"] == 0
    rtf, pptx = by_name["memo_wijkaanpak.rtf"], by_name["presentatie_wijkaanpak.pptx"]
    assert rtf["status"] == pptx["status"] == "added"
    assert rtf["passages"] >= 5 and pptx["pages"] == 7 and pptx["passages"] >= 7
    print(f"\nRTF memo: {rtf['passages']} passages in {rtf['seconds']:.2f} s; PPTX: "
          f"{pptx['pages']} slides, {pptx['passages']} passages in {pptx['seconds']:.2f} s")

    # corrupt variants next to them: those fail (exit 3), the rest is unchanged
    (folder / "kapot.rtf").write_bytes(memo_rtf(tmp_path / "x.rtf").read_bytes()[:3000])
    ole_file(folder / "versleuteld.pptx", {"EncryptedInfo": bytes(4096),
                                           "EncryptedPackage": bytes(8200)})
    report = _ingest(folder, tmp_path / "index", code=3)
    statuses = {f["document"]: (f["status"], f["error"]) for f in report["files"]}
    assert statuses["kapot.rtf"][0] == statuses["versleuteld.pptx"][0] == "failed"
    assert "incomplete" in statuses["kapot.rtf"][1]
    assert "password-protected" in statuses["versleuteld.pptx"][1]
    assert statuses["memo_wijkaanpak.rtf"][0] == "unchanged"
    assert report["summary"]["skipped"] == 3


def _expect_error(path: Path, phrase: str) -> None:
    with pytest.raises(IngestError) as caught:
        load_document(path)
    message = str(caught.value)
    assert phrase in message and path.name in message and "\n" not in message, message

