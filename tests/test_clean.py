"""Text cleaning: pure string functions, no files."""

from __future__ import annotations

import unicodedata

import pytest

from ingest.clean import clean_text, is_page_number, join_hyphenation, remove_repeating_lines


def test_clean_text_normalises_to_nfc() -> None:
    decomposed = "cafe\u0301 ree\u0308el"  # e + combining accent / diaeresis
    cleaned = clean_text(decomposed)
    assert cleaned == "café reëel"
    assert unicodedata.is_normalized("NFC", cleaned)


def test_clean_text_removes_soft_hyphens_and_zero_width_chars() -> None:
    assert clean_text("verant\u00adwoordelijk\u200b beleid\ufeff") == "verantwoordelijk beleid"


def test_soft_hyphen_at_line_end_joins_the_word() -> None:
    assert clean_text("verant\u00ad\nwoordelijk") == "verantwoordelijk"


def test_clean_text_removes_control_chars_but_keeps_newlines() -> None:
    assert clean_text("a\x00b\x07c\n\nd\x85e") == "abc\n\nde"


def test_clean_text_strips_stray_html_but_keeps_text_between_tags() -> None:
    text = (
        "<meta http-equiv='Content-Type' content='text/html; charset=utf-8' />\n\n"
        "De <b>wet</b> geldt.<br>Nu."
    )
    assert clean_text(text) == "De wet geldt.\nNu."


def test_clean_text_keeps_comparisons_and_autolinks() -> None:
    assert clean_text("als a < b en c > d, zie <https://wetten.nl>") == (
        "als a < b en c > d, zie <https://wetten.nl>"
    )


def test_clean_text_normalises_whitespace_and_paragraphs() -> None:
    text = "  Eerste\t\tregel   hier  \n tweede\u00a0regel \n\n\n\n  Nieuwe   alinea  \n\n"
    assert clean_text(text) == "Eerste regel hier\ntweede regel\n\nNieuwe alinea"


def test_clean_text_replaces_symbol_font_bullets() -> None:
    assert clean_text("\uf0b7 punt") == "• punt"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("verant-\nwoordelijk", "verantwoordelijk"),
        ("de verant- \n  woordelijkheid", "de verantwoordelijkheid"),
        ("Noord-\nHolland", "Noord-Holland"),
        ("SER-\nverkenning", "SER-verkenning"),
        ("CO2-\nuitstoot", "CO2-uitstoot"),
        ("zorg-\nen welzijnswet", "zorg- en welzijnswet"),
        ("- eerste punt\n- tweede punt", "- eerste punt\n- tweede punt"),
        ("beleid –\nuitvoering", "beleid –\nuitvoering"),
        ("wijk -\naanpak", "wijk -\naanpak"),
    ],
)
def test_join_hyphenation(text: str, expected: str) -> None:
    assert join_hyphenation(text) == expected


def test_clean_text_joins_hyphenation() -> None:
    assert clean_text("De gemeente is verant-\nwoordelijk in Noord-\nHolland.") == (
        "De gemeente is verantwoordelijk in Noord-Holland."
    )


def _pages(count: int, body: str = "Tekst over pagina") -> list[str]:
    return [
        f"Gemeente Voorbeeldstad\nBeleidsnota 2024\n{body} {'x' * n}.\nMeer inhoud.\n"
        f"Pagina {n} van {count}"
        for n in range(1, count + 1)
    ]


def test_remove_repeating_lines_drops_headers_and_page_x_of_y() -> None:
    cleaned = remove_repeating_lines(_pages(5), min_pages=3, ratio=0.5)
    for page in cleaned:
        assert "Gemeente Voorbeeldstad" not in page
        assert "Beleidsnota 2024" not in page
        assert "Pagina" not in page
        assert "Tekst over pagina" in page


def test_remove_repeating_lines_needs_min_pages() -> None:
    pages = _pages(2)
    cleaned = remove_repeating_lines(pages, min_pages=3)
    assert all("Gemeente Voorbeeldstad" in page for page in cleaned)


def test_remove_repeating_lines_respects_ratio() -> None:
    # The header is on 3 of 10 pages: below the 50% ratio, so it stays.
    pages = [f"Kop\nInhoud {chr(97 + n)}\nslot {chr(97 + n)}" for n in range(3)]
    pages += [f"Andere inhoud {chr(97 + n)}\nslot {chr(98 + n)}" for n in range(7)]
    cleaned = remove_repeating_lines(pages)
    assert cleaned[0].startswith("Kop")


def test_remove_repeating_lines_removes_bare_page_numbers() -> None:
    pages = ["3\nEerste tekst.", "Tweede tekst.\n- 4 -", "Derde tekst.\n5/32"]
    assert remove_repeating_lines(pages) == ["Eerste tekst.", "Tweede tekst.", "Derde tekst."]


def test_remove_repeating_lines_keeps_numbers_away_from_the_edges() -> None:
    pages = [
        "\n".join([f"Regel {c}{i}" for i in "abc"] + [number] + [f"Slot {c}{i}" for i in "abc"])
        for c, number in zip("xyz", ["2024", "12", "7"], strict=True)
    ]
    cleaned = remove_repeating_lines(pages)
    assert "2024" in cleaned[0] and "12" in cleaned[1] and "7" in cleaned[2]


def test_remove_repeating_lines_peels_tall_letterheads() -> None:
    header = "Ministerie van\nInfrastructuur en\nWaterstaat\nKenmerk\nIENW/BSK-2023/33017"
    pages = [f"{header}\nP agina {n} van 4\nInhoud {'y' * n}." for n in range(1, 5)]
    cleaned = remove_repeating_lines(pages)
    assert cleaned == [f"Inhoud {'y' * n}." for n in range(1, 5)]


@pytest.mark.parametrize("line", ["3", "- 3 -", "— 12 —", "3/32", "3 / 32", "Pagina 3 van 10"])
def test_is_page_number(line: str) -> None:
    assert is_page_number(line)


@pytest.mark.parametrize("line", ["Artikel 3", "3 juni 2024", "In 2030 is het klaar."])
def test_is_not_page_number(line: str) -> None:
    assert not is_page_number(line)
