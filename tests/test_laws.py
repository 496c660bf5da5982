"""The law in force: regelrecht versions, the version in force on a date, add-law.

Small synthetic laws (two or three articles) keep the indexes here to seconds; the
bundled Gemeentewet is read (not embedded) to check the loader on real data.
"""

from __future__ import annotations

import datetime
import http.server
import json
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
import yaml

from bronwijzer.domain import BronwijzerError, Filters, IngestError, Passage, source_name
from bronwijzer.versions import LawVersions, Version, version_start
from tests.conftest import PROJECT, free_port

CORPUS = PROJECT / "corpus"
GEMEENTEWET = CORPUS / "gemeentewet_BWBR0005416_2026-10-01.yaml"
BWB = "BWBR0099001"
TODAY = datetime.date.today()


def law_yaml(version: tuple[str, list[dict]], **fields) -> str:
    """A version as regelrecht writes it; a field given as None is left out."""
    valid_from, articles = version
    data = {"$schema": "https://raw.githubusercontent.com/MinBZK/regelrecht/refs/tags/"
                       "schema-v0.7.1/schema/v0.7.1/schema.json",
            "$id": "wet_proefwonen", "regulatory_layer": "WET", "publication_date": "2015-06-01",
            "valid_from": valid_from, "bwb_id": BWB,
            "url": f"https://wetten.overheid.nl/{BWB}/{valid_from}", "articles": articles}
    data.update(fields)
    return yaml.safe_dump({k: v for k, v in data.items() if v is not None}, allow_unicode=True,
                          sort_keys=False)


def article(number: str, text: str, valid_from: str) -> dict:
    return {"number": number, "text": text,
            "url": f"https://wetten.overheid.nl/{BWB}/{valid_from}#Artikel{number}"}


OLD = ("2016-01-01", [
    article("1", "De gemeenteraad stelt regels voor het proefwonen in een wijk.", "2016-01-01"),
    article("2", "Het proefwonen duurt ten hoogste twee jaar.", "2016-01-01")])
NEW = ("2026-07-01", [
    article("1", "De gemeenteraad stelt regels voor het proefwonen in een wijk.", "2026-07-01"),
    article("2", "Het proefwonen duurt ten hoogste vijf jaar.", "2026-07-01"),
    article("2a", "De burgemeester kan een proefwoning sluiten bij ernstige overlast voor "
                  "omwonenden.", "2026-07-01")])


def write(folder: Path, name: str, version: tuple[str, list[dict]], **fields) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(law_yaml(version, **fields), "utf-8")
    return path


# --- the loader ------------------------------------------------------------------------------
def test_a_regelrecht_version_loads_as_articles_with_their_versioned_links() -> None:
    from ingest.load import load_document

    document = load_document(GEMEENTEWET)
    assert (document.name, document.title, document.bwb_id, document.valid_from,
            document.publication_date, document.regulatory_layer, document.document_type) == (
        GEMEENTEWET.name, "Gemeentewet", "BWBR0005416", "2026-10-01", "2026-01-22", "WET", "wet")
    article_151d = [b for b in document.blocks if b.section[0] == "Artikel 151d"]
    assert [b.text[:10] for b in article_151d] == [  # one article (not long), three leden
        "De raad ka", "De in arti", "Onverminde"]
    assert {b.url for b in article_151d} == {
        "https://wetten.overheid.nl/BWBR0005416/2026-10-01#Artikel151d"}
    text = " ".join(b.text for b in article_151d)
    assert "[ref" not in text and "https://" not in text  # reference links as their text
    assert "De in artikel 125, eerste lid, bedoelde bevoegdheid" in text
    # a long article is split by lid; the locator names it
    long = {b.section for b in document.blocks if len(b.section) == 2}
    assert ("Artikel 172a", "lid 3") in long
    passage = Passage("p", "d", "x", "t", "x", 0, section="Artikel 172a › lid 3")
    assert passage.locator() == "art. 172a lid 3"
    assert Passage("p", "d", "x", "t", "x", 0, section="Artikel 151d").locator() == "art. 151d"


def test_the_regelrecht_layout_gets_unique_document_names(tmp_path) -> None:
    from ingest.load import load_document

    path = write(tmp_path / "wet" / "wet_proefwonen", "2016-01-01.yaml", OLD)
    document = load_document(path)
    assert document.name == f"wet_proefwonen_{BWB}_2016-01-01.yaml"
    assert document.title == "Wet proefwonen" and document.year == 2016


@pytest.mark.parametrize(("fields", "articles", "message"), [
    ({"valid_from": None}, None, "field 'valid_from' is missing"),
    ({"valid_from": "1 juli 2026"}, None, "field 'valid_from' must be a date YYYY-MM-DD"),
    ({"bwb_id": None}, None, "field 'bwb_id' is missing"),
    ({"bwb_id": "gemeentewet"}, None, "field 'bwb_id' must be a BWB id"),
    ({}, [{"text": "Zonder nummer."}], "article #1: field 'number' is missing"),
    ({}, [{"number": "1"}], "article 1: field 'text' is missing"),
    ({}, [], "field 'articles' must be a non-empty list"),
])
def test_a_bad_version_is_refused_with_the_file_and_the_field(tmp_path, fields, articles,
                                                              message) -> None:
    from ingest.load import load_document

    version = (OLD[0], OLD[1] if articles is None else articles)
    path = write(tmp_path, "kapot.yaml", version, **fields)
    with pytest.raises(IngestError) as caught:
        load_document(path)
    assert str(path) in str(caught.value) and message in caught.value.reason


def test_malformed_yaml_and_other_yaml_are_refused_in_one_line(tmp_path) -> None:
    from ingest.load import load_document

    (tmp_path / "stuk.yaml").write_text("bwb_id: [BWBR0099001\nvalid_from: x\n", "utf-8")
    with pytest.raises(IngestError, match=r"stuk.yaml: invalid YAML at line \d+"):
        load_document(tmp_path / "stuk.yaml")
    (tmp_path / "mkdocs.yml").write_text("site_name: Docs\n", "utf-8")
    with pytest.raises(IngestError, match="not a regelrecht law version"):
        load_document(tmp_path / "mkdocs.yml")


# --- versions --------------------------------------------------------------------------------
def test_each_version_is_in_force_until_the_next_one_starts() -> None:
    def v(name: str, start: str, indexed: bool = True) -> Version:
        return Version(name, BWB, *version_start(None, start), indexed=indexed)

    versions = LawVersions([v("a.md", "2015"), v("b.yaml", "2020-03-01"),
                            v("c.yaml", "2026-07-01", indexed=False)])
    assert version_start("2026-07-01", None)[1:] == ("2026-07-01", True)
    assert version_start(None, "2015")[1:] == ("2015", False)
    on = datetime.date.fromisoformat
    assert versions.in_force(BWB, on("2014-12-31")) is None
    assert versions.in_force(BWB, on("2016-05-01")).document == "a.md"
    assert versions.in_force(BWB, on("2026-07-01")).document == "c.yaml"
    assert versions.in_force(BWB, on("2026-07-01"), indexed_only=True).document == "b.yaml"
    assert versions.until(versions.by_document["a.md"]) == on("2020-03-01")
    # only indexed versions are ever excluded from a search
    assert versions.not_in_force(on("2026-12-01")) == {"a.md"}
    assert versions.not_in_force(on("2010-01-01")) == {"a.md", "b.yaml"}


@pytest.fixture(scope="module")
def versioned(tmp_path_factory, embeddings):
    """An index of two versions of a small law and one other document."""
    from assistant.pipeline import build_assistant
    from ingest.pipeline import Ingestor
    from presentation.settings import Settings
    from store.index import Index
    from store.sources import SourceCatalogue
    from tests.conftest import SAMPLE

    root = tmp_path_factory.mktemp("versions")
    folder = root / "corpus"
    old = write(folder, f"proefwonen_{BWB}_2016-01-01.yaml", OLD)
    new = write(folder, f"proefwonen_{BWB}_2026-07-01.yaml", NEW)
    settings = Settings.from_env({}, index_dir=root / "index", reader="off",
                                 sources=root / "corpus" / "sources.toml")
    index = Index(settings.index, create=True, embeddings=embeddings)
    report = Ingestor(index, sources=SourceCatalogue([]))([old, new, SAMPLE])
    assert report.count("added") == 3
    return build_assistant(settings, index=index), old.name, new.name


def searched(assistant, question: str, *filters: str) -> set[str]:
    retrieval = assistant.retriever(question, 10, Filters.parse(list(filters)))
    return {s.passage.document for s in retrieval.passages}


def test_only_the_version_in_force_on_the_asked_date_is_searched(versioned) -> None:
    assistant, old, new = versioned
    question = "Hoe lang duurt het proefwonen?"
    today = searched(assistant, question)
    assert new in today and old not in today
    assert old in searched(assistant, question, "geldig_op=2017-05-01")
    assert new not in searched(assistant, question, "geldig_op=2017-05-01")
    assert not {old, new} & searched(assistant, question, "geldig_op=2010-01-01")
    # other documents are unaffected by the date
    assert "verwey-jonker_nieuw_wijkenbeleid_perspectief_bieden_2021.md" in searched(
        assistant, "Wat is sociale herovering?", "geldig_op=2010-01-01")
    # law= is the law whatever its versions; a version named explicitly is searched
    assert searched(assistant, question, f"law={BWB}") == {new}
    assert searched(assistant, question, f"document={old}") == {old}
    assert searched(assistant, question, "law=BWBR0000001") == set()  # not in the index


def test_the_answer_names_its_version_and_links_to_it(versioned) -> None:
    assistant, old, new = versioned
    answer = assistant.ask("Hoe lang duurt het proefwonen?")
    cited = answer.citations[0]
    assert not answer.refused and cited.document == new and not answer.notices
    assert (cited.valid_from, cited.locator) == ("2026-07-01", "art. 2")
    assert cited.url == f"https://wetten.overheid.nl/{BWB}/2026-07-01#Artikel2"
    assert answer.to_dict()["geldig_op"] == TODAY.isoformat()
    earlier = assistant.ask("Hoe lang duurt het proefwonen?",
                            filters=Filters.parse(["geldig_op=2017-05-01"]))
    assert earlier.citations[0].document == old and not earlier.notices
    assert "twee jaar" in earlier.text
    named = assistant.ask("Hoe lang duurt het proefwonen?",
                          filters=Filters.parse([f"document={old}"]))
    assert named.citations[0].stale and "geldt de versie vanaf 2026-07-01" in named.notices[0]


def test_filters_parse_laws_and_dates() -> None:
    parsed = Filters.parse(["geldig_op=2016-01-01", "wet=BWBR0005416"])
    assert parsed.valid_on == datetime.date(2016, 1, 1) and parsed.laws == ("BWBR0005416",)
    assert Filters.parse(parsed.expressions()) == parsed
    for bad, message in (("geldig_op=2016", "geldig_op must be a date YYYY-MM-DD"),
                         ("geldig_op=2016-02-30", "YYYY-MM-DD"),
                         ("law=Gemeentewet", "law must be a BWB id")):
        with pytest.raises(BronwijzerError, match=message):
            Filters.parse([bad])


# --- add-law ---------------------------------------------------------------------------------
@pytest.fixture()
def law_server(tmp_path) -> Iterator[tuple[str, Path]]:
    """A local web server over a regelrecht-like tree (index pages list the folders), and
    the GitHub contents API's JSON for one law folder at /api/<law>."""
    root = tmp_path / "served"
    folder = root / "regulation" / "nl" / "wet" / "wet_proefwonen"
    write(folder, "2016-01-01.yaml", OLD)
    port = free_port()
    base = f"http://127.0.0.1:{port}"

    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.startswith("/api/"):
                law = root / "regulation" / "nl" / "wet" / self.path.removeprefix("/api/")
                body = json.dumps([{"name": p.name, "type": "file", "download_url":
                                    f"{base}/{p.relative_to(root).as_posix()}"}
                                   for p in sorted(law.glob("*.yaml"))]).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)
                return
            super().do_GET()

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port),
                                             partial(Handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield base, folder
    finally:
        server.shutdown()
        server.server_close()


def add_law(tmp_path: Path, target: str, monkeypatch, capsys) -> tuple[int, str, str]:
    from cli.main import main

    corpus = tmp_path / "corpus"
    corpus.mkdir(exist_ok=True)
    monkeypatch.setenv("BRONWIJZER_SOURCES", str(corpus / "sources.toml"))
    code = main(["corpus", "add-law", target, "--index", str(tmp_path / "index")])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_add_law_fetches_versions_and_ingests_only_what_is_new(tmp_path, law_server,
                                                                monkeypatch, capsys) -> None:
    from store.catalog import Catalog
    from store.sources import SourceCatalogue

    base, folder = law_server
    listing = f"{base}/regulation/nl/wet/wet_proefwonen/"
    code, out, err = add_law(tmp_path, listing, monkeypatch, capsys)
    assert code == 0, err
    name_old = f"wet_proefwonen_{BWB}_2016-01-01.yaml"
    assert f"toegevoegd  Wet proefwonen, versie geldend vanaf 2016-01-01 ({name_old}" in out
    catalogue = SourceCatalogue.load(tmp_path / "corpus" / "sources.toml")
    entry = catalogue.source(name_old)  # provenance recorded
    assert entry.download_url == f"{listing}2016-01-01.yaml" and len(entry.sha256) == 64
    catalog = Catalog(tmp_path / "index" / "catalog.sqlite3")
    before = {d.name: d.ingested_at for d in catalog.documents()}

    # again: unchanged; then a new version through the GitHub-style JSON listing
    assert "ongewijzigd" in add_law(tmp_path, listing, monkeypatch, capsys)[1]
    write(folder, "2026-07-01.yaml", NEW)
    code, out, err = add_law(tmp_path, f"{base}/api/wet_proefwonen", monkeypatch, capsys)
    assert code == 0, err
    assert "ongewijzigd  Wet proefwonen, versie geldend vanaf 2016-01-01" in out
    assert "toegevoegd  Wet proefwonen, versie geldend vanaf 2026-07-01" in out
    assert f"{BWB}: 2 versie(s) in de index; geldend op {TODAY.isoformat()}: " \
           f"wet_proefwonen_{BWB}_2026-07-01.yaml" in out
    after = {d.name: d.ingested_at for d in catalog.documents()}
    assert after[name_old] == before[name_old]  # the old version was not touched
    assert len(SourceCatalogue.load(tmp_path / "corpus" / "sources.toml").sources) == 2


def test_add_law_from_a_file_or_folder_refuses_a_bad_version_and_changes_nothing(
        tmp_path, monkeypatch, capsys) -> None:
    source = tmp_path / "in"
    good = write(source / "wet_proefwonen", "2016-01-01.yaml", OLD)
    code, out, err = add_law(tmp_path, str(good), monkeypatch, capsys)
    assert code == 0 and "toegevoegd" in out, err
    bad = write(source / "wet_proefwonen", "2026-07-01.yaml",
                (NEW[0], [*NEW[1], {"text": "Artikel zonder nummer."}]))
    code, out, err = add_law(tmp_path, str(source), monkeypatch, capsys)
    assert code == 1 and err.strip().count("\n") == 0
    assert str(bad) in err and "article #4: field 'number' is missing" in err
    assert sorted(p.name for p in (tmp_path / "corpus").glob("*.yaml")) == [
        f"wet_proefwonen_{BWB}_2016-01-01.yaml"]  # nothing half added


def test_a_bad_version_leaves_what_is_stored_as_it_was(tmp_path, embeddings) -> None:
    from ingest.pipeline import Ingestor
    from presentation.settings import Settings
    from store.index import Index
    from store.sources import SourceCatalogue

    settings = Settings.from_env({}, index_dir=tmp_path / "index", reader="off")
    index = Index(settings.index, create=True, embeddings=embeddings)
    ingest = Ingestor(index, sources=SourceCatalogue([]))
    good = write(tmp_path / "in", f"proefwonen_{BWB}_2016-01-01.yaml", OLD)
    ingest([good])
    stored = sorted(p.id for p in index.catalog.iter_passages())
    bad = write(tmp_path / "in", f"proefwonen_{BWB}_2026-07-01.yaml", NEW)
    bad.write_text(bad.read_text("utf-8").replace("valid_from: '2026-07-01'\n", ""), "utf-8")
    good.write_text(good.read_text("utf-8") + "articles: [\n", "utf-8")  # now malformed too
    report = ingest([good, bad])
    assert [f.status for f in report.files] == ["failed", "failed"]
    assert "invalid YAML" in report.files[0].error
    assert "field 'valid_from' is missing" in report.files[1].error
    assert sorted(p.id for p in index.catalog.iter_passages()) == stored
    assert [d.name for d in index.documents()] == [good.name]


def test_add_law_offline_says_so_in_one_line(tmp_path, monkeypatch, capsys) -> None:
    closed = f"http://127.0.0.1:{free_port()}/wet/gemeentewet/"
    code, out, err = add_law(tmp_path, closed, monkeypatch, capsys)
    assert code == 1 and not out and err.strip().count("\n") == 0
    assert "no network access" in err and "nothing was changed" in err
    assert not (tmp_path / "index").exists()


# --- the demo --------------------------------------------------------------------------------
@pytest.mark.slow
def test_the_demo_answers_laws_from_the_version_in_force(demo_index, embeddings) -> None:
    from assistant.pipeline import build_assistant

    # as `make demo` runs it (the reader reads 12), and without the reader
    demo = build_assistant(demo_index.with_(reader="bundled", reader_candidates=12),
                           embeddings=embeddings)
    assert demo.reader is not None
    question = "Wat kan een burgemeester doen tegen woonoverlast?"
    for assistant in (demo, build_assistant(demo_index, embeddings=embeddings)):
        # no source says "woonoverlast"; the vocabulary gives BM25 and e5 the law's words
        answer = assistant.ask(question)
        art_151d = answer.citations[0]
        assert (art_151d.document, art_151d.locator) == (
            "gemeentewet_BWBR0005416_2026-10-01.yaml", "art. 151d")
        assert art_151d.valid_from == "2026-10-01" and not art_151d.stale
        assert art_151d.url == "https://wetten.overheid.nl/BWBR0005416/2026-10-01#Artikel151d"
        assert not answer.notices
        assert {"hinder", "omwonenden"} <= set(answer.also_searched)  # shown to the user
    earlier = demo.ask(question, filters=Filters.parse(["geldig_op=2016-01-01"]))
    assert all(c.locator != "art. 151d" for c in earlier.citations)
    assert all(c.document.endswith(".md") for c in earlier.citations)
    assert not earlier.notices
    # the README shows both answers as `bronwijzer ask` prints their first source
    readme = (PROJECT / "README.md").read_text("utf-8")
    for shown in (demo.ask(question), earlier):
        cited = shown.citations[0]
        assert f"#  [1] {source_name(cited).text()} — {cited.document}\n" in readme
    # the 2015 text named explicitly today: answered, with the version in force named
    named = demo.ask("Wie is belast met de handhaving van de openbare orde?",
                     filters=Filters.parse(["document=gemeentewet_BWBR0005416.md"]))
    assert named.citations[0].stale
    assert "op " + datetime.date.today().isoformat() + " geldt de versie vanaf 2026-10-01" in (
        named.notices[0])
