"""Loaders: real files generated with fpdf2, pypdf, python-docx and odfpy (no mocks)."""

from __future__ import annotations

import time
import zipfile
from pathlib import Path

import docx
import pdf_factory
import pytest
from odf.opendocument import OpenDocumentText
from odf.table import Table, TableCell, TableColumn, TableRow
from odf.text import H, P

from bronwijzer.domain import Document, IngestError
from ingest.load import SUPPORTED_SUFFIXES, SkippedFile, discover, load_document, scan

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"


def _corpus_file(name: str) -> Path:
    path = CORPUS / name
    if not path.is_file():
        pytest.skip(f"../shared/corpus not found: {path}")
    return path


def _texts(document: Document) -> list[str]:
    return [block.text for block in document.blocks]


def _all_text(document: Document) -> str:
    return "\n".join(_texts(document))


def _expect_error(path: Path, phrase: str, **kwargs: int) -> IngestError:
    with pytest.raises(IngestError) as caught:
        load_document(path, **kwargs)
    message = str(caught.value)
    assert phrase in message
    assert path.name in message
    assert "\n" not in message
    return caught.value


# --------------------------------------------------------------------------- discover


def test_discover_expands_folders_sorted_and_skips_hidden(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / ".verborgen").mkdir()
    for name in [
        "b/twee.md",
        "een.pdf",
        "drie.txt",
        "notities.xlsx",
        ".geheim.md",
        ".verborgen/x.md",
    ]:
        (tmp_path / name).write_text("x")
    files, errors = discover([tmp_path])
    assert errors == []
    assert [f.relative_to(tmp_path).as_posix() for f in files] == [
        "b/twee.md",
        "drie.txt",
        "een.pdf",
    ]
    assert all(f.is_absolute() for f in files)
    # what discover leaves out, scan lists: nothing under the paths goes unmentioned
    skipped = {Path(s.path).relative_to(tmp_path).as_posix() for s in scan([tmp_path]).skipped}
    assert skipped == {"notities.xlsx", ".geheim.md", ".verborgen"}


def test_scan_skips_unsupported_explicit_file_and_reports_missing_path(tmp_path: Path) -> None:
    sheet = tmp_path / "begroting.xlsx"
    sheet.write_text("x")
    note = tmp_path / "nota.md"
    note.write_text("x")
    found = scan([sheet, note, note, tmp_path / "bestaat_niet.pdf"])
    assert found.files == [note.absolute()]
    assert found.skipped == [SkippedFile(str(sheet), "format .xlsx wordt niet ondersteund")]
    assert len(found.errors) == 1 and "not found" in str(found.errors[0])
    assert "bestaat_niet.pdf" in str(found.errors[0])


def test_explicit_hidden_file_is_loaded(tmp_path: Path) -> None:
    hidden = tmp_path / ".concept.md"
    hidden.write_text("# Concept\n\nTekst.\n")
    assert scan([hidden]).files == [hidden]


def test_discover_keeps_binary_md_for_load_to_reject(tmp_path: Path) -> None:
    fake = tmp_path / "plaatje.md"
    fake.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200))
    files, _ = discover([tmp_path])
    assert files == [fake]
    _expect_error(fake, "binary file, not text")


def test_supported_suffixes() -> None:
    expected = {".pdf", ".md", ".markdown", ".txt", ".html", ".htm", ".docx", ".odt", ".rtf",
                ".pptx", ".yaml", ".yml"}
    assert expected == SUPPORTED_SUFFIXES


# --------------------------------------------------------------------------- PDF


def test_pdf_with_dutch_text_header_footer_and_hyphenation(tmp_path: Path) -> None:
    path = pdf_factory.dutch_pdf(tmp_path)
    document = load_document(path)
    assert document.pages == 3
    assert document.name == "beleidsnota.pdf"
    assert document.path == str(path.absolute())
    assert len(document.sha256) == 64
    assert {block.page for block in document.blocks} == {1, 2, 3}
    text = _all_text(document)
    assert "Voorbeeldstad" not in text and "Pagina" not in text
    assert "verantwoordelijk voor een veilige openbare ruimte in Noord-Holland" in text
    for word in ["café", "reële", "naïef", "coördinator", "Ümit", "financiële"]:
        assert word in text
    page_of = {block.text: block.page for block in document.blocks}
    assert page_of["Het café op de hoek krijgt een reële kans."] == 1
    assert page_of["Bewoners zijn naïef noch onverschillig over overlast."] == 2
    assert all(block.page_label is None for block in document.blocks)
    assert document.title == "Beleidsnota leefbaarheid in de wijk"


def test_pdf_metadata_title_wins_unless_junk(tmp_path: Path) -> None:
    pages = [["Eerste regel van de nota."]]
    good = pdf_factory.write_text_pdf(tmp_path / "a.pdf", pages, title="Nota wijkaanpak 2024")
    junk = pdf_factory.write_text_pdf(tmp_path / "b.pdf", pages, title="Microsoft Word - a.docx")
    assert load_document(good).title == "Nota wijkaanpak 2024"
    assert load_document(junk).title == "Eerste regel van de nota."


def test_pdf_page_labels(tmp_path: Path) -> None:
    document = load_document(pdf_factory.labelled_pdf(tmp_path))
    labels = [(block.page, block.page_label) for block in document.blocks]
    assert labels == [(1, "i"), (2, "ii"), (3, "1"), (4, "2"), (5, "3")]


def test_pdf_outline_sets_sections_from_the_heading_line(tmp_path: Path) -> None:
    document = load_document(pdf_factory.outlined_pdf(tmp_path))
    sections = {block.text: (block.page, block.section) for block in document.blocks}
    assert sections["De nota beschrijft de wijkaanpak."] == (1, ("Inleiding",))
    assert sections["Slot van de inleiding."] == (2, ("Inleiding",))
    assert sections["De aanpak begint bij bewoners."] == (2, ("Aanpak",))
    assert sections["Meer over de aanpak."] == (3, ("Aanpak",))
    assert "Aanpak" not in sections  # headings are not blocks


def test_pdf_with_many_pages(tmp_path: Path) -> None:
    document = load_document(pdf_factory.many_pages_pdf(tmp_path, page_count=60))
    assert document.pages == 60
    assert [b.page for b in document.blocks] == [n for n in range(1, 61) for _ in range(2)]
    assert "Pagina" not in _all_text(document)


def test_pdf_with_empty_user_password_is_readable(tmp_path: Path) -> None:
    document = load_document(pdf_factory.encrypted_pdf(tmp_path, user_password=""))
    assert "Noord-Holland" in _all_text(document)


def test_encrypted_pdf(tmp_path: Path) -> None:
    _expect_error(pdf_factory.encrypted_pdf(tmp_path), "PDF is encrypted; remove the password")


def test_image_only_pdf(tmp_path: Path) -> None:
    _expect_error(pdf_factory.image_only_pdf(tmp_path), "PDF has no text layer (scanned?)")


@pytest.mark.parametrize("keep_fraction", [0.05, 0.3, 0.8])
def test_truncated_pdf(tmp_path: Path, keep_fraction: float) -> None:
    _expect_error(pdf_factory.truncated_pdf(tmp_path, keep_fraction), "not a readable PDF (")


def test_garbage_pdf(tmp_path: Path) -> None:
    _expect_error(pdf_factory.garbage_pdf(tmp_path), "not a readable PDF (")


def test_text_file_named_pdf(tmp_path: Path) -> None:
    path = tmp_path / "geen_pdf.pdf"
    path.write_text("Dit is gewoon tekst.")
    _expect_error(path, "not a readable PDF (")


# --------------------------------------------------------------------------- generic errors


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "leeg.md"
    path.write_bytes(b"")
    _expect_error(path, "empty file (0 bytes)")


def test_file_larger_than_limit(tmp_path: Path) -> None:
    path = tmp_path / "groot.txt"
    path.write_bytes(b"woord " * 400_000)  # 2.3 MB
    _expect_error(
        path,
        "file is 2.3 MB, larger than the limit of 1 MB (BRONWIJZER_MAX_FILE_MB)",
        max_bytes=1024 * 1024,
    )


def test_unsupported_extension(tmp_path: Path) -> None:
    path = tmp_path / "begroting.xlsx"
    path.write_text("x")
    _expect_error(path, "unsupported extension .xlsx, supported: .docx, .htm, .html")


def test_missing_file(tmp_path: Path) -> None:
    _expect_error(tmp_path / "weg.md", "file not found")


def test_whitespace_only_file_has_no_text(tmp_path: Path) -> None:
    path = tmp_path / "leeg_maar_niet_nul.md"
    path.write_text("\n\n   \n<meta charset='utf-8' />\n")
    _expect_error(path, "no text found")


def test_undecodable_text(tmp_path: Path) -> None:
    path = tmp_path / "raar.txt"
    path.write_bytes(b"Caf\xe9 met \x81 ongedefinieerde byte")
    _expect_error(path, "cannot decode text (not UTF-8 or Windows-1252)")


def test_windows_1252_text_falls_back(tmp_path: Path) -> None:
    path = tmp_path / "oud.txt"
    path.write_bytes("Het café – “oud” bestand.".encode("cp1252"))
    assert _texts(load_document(path)) == ["Het café – “oud” bestand."]


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.md"
    path.write_bytes("\ufeff# Kop\n\nTekst met ë.".encode())
    document = load_document(path)
    assert document.title == "Kop"
    assert _texts(document) == ["Tekst met ë."]


# --------------------------------------------------------------------------- Markdown / text


LAW_MARKDOWN = """\
<meta http-equiv='Content-Type' content='text/html; charset=utf-8' />

##Wet van 1 januari 2024, houdende regels over wijken (Wijkwet)

Wij Willem-Alexander, bij de gratie Gods.

### Hoofdstuk  1

####Begripsbepalingen

### §  1

####Algemeen

### Artikel  1.1.1

1.  In deze wet wordt verstaan onder *wijk:* een **buurt** met [bewoners](https://x.nl).

### Artikel  1.1.2

Tweede artikel.

### Hoofdstuk  2

####Uitvoering

### Artikel  2.1

Derde artikel.
"""


def test_markdown_law_headings_without_space(tmp_path: Path) -> None:
    path = tmp_path / "wijkwet.md"
    path.write_text(LAW_MARKDOWN)
    document = load_document(path)
    assert document.title == "Wet van 1 januari 2024, houdende regels over wijken (Wijkwet)"
    sections = {block.text: block.section for block in document.blocks}
    assert sections["Wij Willem-Alexander, bij de gratie Gods."] == ()
    assert sections["1. In deze wet wordt verstaan onder wijk: een buurt met bewoners."] == (
        "Hoofdstuk 1 Begripsbepalingen",
        "§ 1 Algemeen",
        "Artikel 1.1.1",
    )
    assert sections["Tweede artikel."] == (
        "Hoofdstuk 1 Begripsbepalingen",
        "§ 1 Algemeen",
        "Artikel 1.1.2",
    )
    assert sections["Derde artikel."] == ("Hoofdstuk 2 Uitvoering", "Artikel 2.1")
    assert not any("<meta" in text or "http-equiv" in text for text in sections)


def test_markdown_titel_containing_hoofdstukken(tmp_path: Path) -> None:
    """The Gemeentewet nests Hoofdstukken inside Titels, the reverse of most laws."""
    path = tmp_path / "gemeentewet.md"
    path.write_text(
        "### Titel  I\n\n####Begrippen\n\n### Artikel 1\n\nEen.\n\n"
        "###Titel II\n\n####Inrichting\n\n### Hoofdstuk  I\n\n####De raad\n\n"
        "### Artikel 7\n\nZeven.\n\n"
        "### Hoofdstuk II\n\n### Artikel 8\n\nAcht.\n"
    )
    sections = {block.text: block.section for block in load_document(path).blocks}
    assert sections["Een."] == ("Titel I Begrippen", "Artikel 1")
    assert sections["Zeven."] == ("Titel II Inrichting", "Hoofdstuk I De raad", "Artikel 7")
    assert sections["Acht."] == ("Titel II Inrichting", "Hoofdstuk II", "Artikel 8")


def test_markdown_front_matter_and_plain_headings(tmp_path: Path) -> None:
    path = tmp_path / "nieuws.md"
    path.write_text(
        '---\ntitle: "Nieuw wijkenbeleid"\npublisher: Verwey-Jonker Instituut\n'
        "date: 2021-10-27\ndocument_type: nieuwsbericht\n---\n\n"
        "# Inleiding\n\nEerste regel\nloopt door.\n\n## Achtergrond\n\n- punt een\n- punt twee\n\n"
        "| Kolom | Waarde |\n|:---|---:|\n| a | 1 |\n\n![figuur](fig.png)\n\n```\n# geen kop\n```\n"
    )
    document = load_document(path)
    assert (document.title, document.publisher, document.year, document.document_type) == (
        "Nieuw wijkenbeleid", "Verwey-Jonker Instituut", 2021, "nieuwsbericht",
    )  # fmt: skip
    assert [(b.text, b.section) for b in document.blocks] == [
        ("Eerste regel loopt door.", ("Inleiding",)),
        ("punt een", ("Inleiding", "Achtergrond")),
        ("punt twee", ("Inleiding", "Achtergrond")),
        ("Kolom Waarde", ("Inleiding", "Achtergrond")),
        ("a 1", ("Inleiding", "Achtergrond")),
        ("# geen kop", ("Inleiding", "Achtergrond")),
    ]


def test_markdown_year_key_and_file_name_title(tmp_path: Path) -> None:
    path = tmp_path / "notitie_over_wijken.txt"
    path.write_text("---\nyear: 2019\n---\nGewone tekst zonder koppen.\n")
    document = load_document(path)
    assert document.year == 2019
    assert document.title == "notitie over wijken"


@pytest.mark.parametrize(
    "front_matter",
    ["---\ntitle: [niet gesloten\n---\nTekst.\n", "---\ntitle: a\nTekst zonder einde.\n"],
)
def test_broken_front_matter(tmp_path: Path, front_matter: str) -> None:
    path = tmp_path / "kapot.md"
    path.write_text(front_matter)
    _expect_error(path, "front matter is invalid YAML")


def test_corpus_wmo_sections() -> None:
    document = load_document(_corpus_file("wmo_2015_BWBR0035362.md"))
    assert document.title.startswith("Wet van 9 juli 2014")
    first = next(b for b in document.blocks if b.text.startswith("1. In deze wet en de daarop"))
    assert first.section == (
        "Hoofdstuk 1 Begripsbepalingen en algemene bepalingen",
        "§ 1 Begripsbepalingen",
        "Artikel 1.1.1",
    )
    assert any(b.section[-1:] == ("Artikel 2.3.5",) for b in document.blocks)
    assert not any("<meta" in b.text or "http-equiv" in b.text for b in document.blocks)
    assert not any("**" in b.text or "](" in b.text for b in document.blocks)


# --------------------------------------------------------------------------- HTML


def test_html(tmp_path: Path) -> None:
    path = tmp_path / "pagina.html"
    path.write_text(
        "<html><head><title>Wijkaanpak &amp; leefbaarheid</title><style>p{}</style></head><body>"
        "<nav><a href='/'>Home</a></nav><h1>Wijkaanpak</h1>"
        "<p>Eerste\n alinea met <b>nadruk</b>.</p><h2>Aanpak</h2><ul><li>Punt één</li></ul>"
        "<table><tr><td>Cel A</td><td>Cel B</td></tr></table>"
        "<script>var x = 1;</script><footer>Colofon</footer></body></html>"
    )
    document = load_document(path)
    assert document.title == "Wijkaanpak & leefbaarheid"
    assert [(b.text, b.section) for b in document.blocks] == [
        ("Eerste alinea met nadruk.", ("Wijkaanpak",)),
        ("Punt één", ("Wijkaanpak", "Aanpak")),
        ("Cel A", ("Wijkaanpak", "Aanpak")),
        ("Cel B", ("Wijkaanpak", "Aanpak")),
    ]


def test_html_title_from_h1(tmp_path: Path) -> None:
    path = tmp_path / "zonder_title.htm"
    path.write_text("<h1>Nota  wonen</h1><p>Tekst.</p>")
    assert load_document(path).title == "Nota wonen"


# --------------------------------------------------------------------------- DOCX


def test_docx(tmp_path: Path) -> None:
    word = docx.Document()
    word.core_properties.author = "Jan Jansen"
    word.add_heading("Beleidsplan wonen", level=1)
    word.add_paragraph("Inleidende tekst over wonen.")
    word.add_heading("Doelen", level=2)
    word.add_paragraph("Meer woningen in Noord-Holland.")
    table = word.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "Doel"
    table.rows[0].cells[1].text = "1000 woningen"
    path = tmp_path / "plan.docx"
    word.save(str(path))
    document = load_document(path)
    assert document.title == "Beleidsplan wonen"
    assert document.publisher is None
    assert [(b.text, b.section) for b in document.blocks] == [
        ("Inleidende tekst over wonen.", ()),
        ("Meer woningen in Noord-Holland.", ("Doelen",)),
        ("Doel", ("Doelen",)),
        ("1000 woningen", ("Doelen",)),
    ]


def test_docx_core_title(tmp_path: Path) -> None:
    word = docx.Document()
    word.core_properties.title = "Officiële titel"
    word.add_paragraph("Tekst.")
    path = tmp_path / "titel.docx"
    word.save(str(path))
    assert load_document(path).title == "Officiële titel"


def test_docx_not_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "nep.docx"
    path.write_text("geen zip")
    _expect_error(path, "not a valid DOCX file (")


def test_docx_zip_without_word_parts(tmp_path: Path) -> None:
    path = tmp_path / "leeg_archief.docx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("iets.txt", "x")
    _expect_error(path, "not a valid DOCX file (")


# --------------------------------------------------------------------------- ODT


def test_odt(tmp_path: Path) -> None:
    odt = OpenDocumentText()
    odt.text.addElement(H(outlinelevel=1, text="Overeenkomst"))
    odt.text.addElement(P(text="Partijen komen overeen."))
    odt.text.addElement(H(outlinelevel=2, text="Artikel 1"))
    odt.text.addElement(P(text="De subsidie bedraagt € 1.000."))
    table = Table()
    table.addElement(TableColumn(numbercolumnsrepeated=1))
    row = TableRow()
    cell = TableCell()
    cell.addElement(P(text="Tabeltekst in een cel."))
    row.addElement(cell)
    table.addElement(row)
    odt.text.addElement(table)
    path = tmp_path / "overeenkomst.odt"
    odt.save(str(path))
    document = load_document(path)
    assert document.title == "Overeenkomst"
    assert [(b.text, b.section) for b in document.blocks] == [
        ("Partijen komen overeen.", ()),
        ("De subsidie bedraagt € 1.000.", ("Artikel 1",)),
        ("Tabeltekst in een cel.", ("Artikel 1",)),
    ]


def test_odt_not_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "nep.odt"
    path.write_bytes(b"PK\x03\x04 maar geen echte zip")
    _expect_error(path, "not a valid ODT file (")


# --------------------------------------------------------------------------- corpus


@pytest.fixture(scope="module")
def corpus_documents() -> dict[str, Document]:
    if not CORPUS.is_dir():
        pytest.skip(f"../shared/corpus not found: {CORPUS}")
    files, errors = discover([CORPUS])
    assert errors == []
    started = time.perf_counter()
    documents = {path.name: load_document(path) for path in files}
    seconds = time.perf_counter() - started
    pages = sum(d.pages or 0 for d in documents.values())
    print(f"\nloaded {len(documents)} corpus files, {pages} PDF pages, in {seconds:.1f} s")
    return documents


@pytest.mark.slow
def test_corpus_loads_completely(corpus_documents: dict[str, Document]) -> None:
    assert len(corpus_documents) == 20
    for name, document in corpus_documents.items():
        assert document.blocks, name
        assert all(block.text.strip() for block in document.blocks), name
        assert not any("<meta" in block.text for block in document.blocks), name
        if name.endswith(".pdf"):
            assert document.pages and document.pages >= 1, name
            pages = {block.page for block in document.blocks}
            assert pages and min(pages) >= 1 and max(pages) <= document.pages, name


@pytest.mark.slow
def test_corpus_known_sentence_on_known_page(corpus_documents: dict[str, Document]) -> None:
    document = corpus_documents["kamerbrief_circulaire_economie_IenW_2023.pdf"]
    assert document.pages == 7
    assert document.title == "Nationaal Programma Circulaire Economie 2023-2030"
    pages = {
        b.page for b in document.blocks if "Milieuschade mag niet zonder gevolgen blijven" in b.text
    }
    assert pages == {3}
    assert not any("agina 3 van 7" in b.text for b in document.blocks)


def test_the_corpus_catalogue_is_listed_as_what_it_is():
    from ingest.load import scan

    corpus = Path(__file__).resolve().parent.parent / "corpus"
    found = scan([corpus])
    reasons = {Path(s.path).name: s.reason for s in found.skipped}
    assert reasons == {"sources.toml": "de catalogus van het corpus (metadata per document), "
                                       "geen document"}
    assert len(found.files) == 19 and not found.errors  # 12 texts, 7 law versions
