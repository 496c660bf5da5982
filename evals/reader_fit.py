"""Train the reader (assistant/reader.py) on the reading set, and measure it on its dev split.

Every question is asked of an index of the training corpus with Bronwijzer's own hybrid
retrieval. The passages that hold its quote are positives (also when the retrieval missed
them); the other retrieved passages are hard negatives. Unanswerable questions, and a
share of the answerable ones asked without their document (leave-one-document-out),
give groups of negatives only. The loss per group: a softmax over the group (the gold
passage should win), a binary term (so one logit also says "nothing here answers"), a
token term for the quote's tokens and a start/end term for the short answer. The dev
documents (evals/reading.DEV_DOCUMENTS) are never trained on; evaluation documents never
come near any of it.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from assistant.reader import Pair, Reader, encode_pairs, pad, reader_module
from bronwijzer.domain import BronwijzerError, Filters, Passage
from evals import metrics
from evals.reading import ReadingItem

Progress = Callable[[str], None]


@dataclass(frozen=True)
class ReaderTraining:
    epochs: int = 1
    learning_rate: float = 4e-5  # the encoder's; the new heads learn at head_rate
    head_rate: float = 1e-3
    negatives: int = 3  # hard negatives per answerable question and step
    negatives_unanswerable: int = 3
    candidates: int = 20  # retrieved passages per question
    lodo_share: float = 0.15  # answerable questions also asked without their document
    # the lowest encoder layers stay as e5 has them: backward passes only through the rest
    # (a cost choice for 2 cores, not a tuned one)
    frozen_layers: int = 4
    binary_weight: float = 0.5
    evidence_weight: float = 0.5
    negative_evidence_weight: float = 0.2  # token term on the negatives, relative
    span_weight: float = 0.25
    warmup: float = 0.05
    fraction: float = 1.0  # share of the training questions used (the learning curve)
    seed: int = 0


@dataclass(frozen=True)
class Gold:
    passage: Passage
    quote: tuple[int, int]  # character span of the quote in passage.text
    answer: tuple[int, int] | None  # of the short answer


@dataclass
class Group:
    id: str
    question: str
    answerable: bool
    retrieved: list[Passage]  # in retrieval order
    gold: list[Gold] = field(default_factory=list)
    gold_ids: set[str] = field(default_factory=set)

    @property
    def negatives(self) -> list[Passage]:
        return [p for p in self.retrieved if p.id not in self.gold_ids]


# --- building the groups ---------------------------------------------------------------------
def find_span(text: str, needle: str) -> tuple[int, int] | None:
    """Where `needle` occurs in `text`, whitespace runs matching any whitespace."""
    words = needle.split()
    if not words:
        return None
    match = re.search(r"\s+".join(re.escape(w) for w in words), text)
    return (match.start(), match.end()) if match else None


def gold_passages(item: ReadingItem, passages: Sequence[Passage]) -> list[Gold]:
    out = []
    for passage in passages:
        quote = find_span(passage.text, item.quote)
        if quote is None:
            continue
        answer = find_span(passage.text[quote[0]:quote[1]], item.short_answer)
        out.append(Gold(passage, quote,
                        (quote[0] + answer[0], quote[0] + answer[1]) if answer else None))
    return out


def build_groups(assistant: Any, items: Sequence[ReadingItem], *, candidates: int,
                 lodo_share: float = 0.0, seed: int = 0, cache: dict[str, list[str]] | None = None,
                 progress: Progress | None = None) -> list[Group]:
    """One group per item (and per leave-one-document-out question): what the retrieval
    finds, split into gold and not. `cache` keeps each retrieval's passage ids by question
    and filter, so a larger set retrieves only its new questions."""
    index = assistant.index
    everything = {p.id: p for p in index.passages(sorted(index.visible_ids())).values()}
    by_document: dict[str, list[Passage]] = {}
    for passage in everything.values():
        by_document.setdefault(passage.document, []).append(passage)
    documents = sorted(by_document)
    cache = {} if cache is None else cache
    chooser = random.Random(seed)
    started = time.perf_counter()

    def retrieve(question: str, without: str | None = None) -> list[Passage]:
        key = f"{candidates}|{without or ''}|{question}"
        if key not in cache:
            filters = Filters(documents=tuple(d for d in documents if d != without)
                              ) if without else None
            retrieval = assistant.retrieve(question, filters, k=candidates)
            found = retrieval.candidates or retrieval.passages
            cache[key] = [s.passage.id for s in found[:candidates]]
        return [everything[i] for i in cache[key] if i in everything]

    groups: list[Group] = []
    for n, item in enumerate(items, start=1):
        group = Group(item.id, item.question, item.answerable, retrieve(item.question))
        if item.answerable:
            passages = by_document.get(item.document or "", [])
            group.gold = gold_passages(item, passages)
            if not group.gold:  # a quote over a passage boundary: the rule of the eval
                group.gold_ids = {p.id for p in passages if metrics.relevant_to_any(
                    p.document, p.text, [item.evidence()])}
            group.gold_ids |= {g.passage.id for g in group.gold}
            if not group.gold_ids:
                continue
            if chooser.random() < lodo_share:
                groups.append(Group(item.id + "-lodo", item.question, False,
                                    retrieve(item.question, without=item.document)))
        groups.append(group)
        if progress and n % 500 == 0:
            progress(f"retrieved for {n}/{len(items)} questions "
                     f"({time.perf_counter() - started:.0f} s)")
    return groups


# --- training --------------------------------------------------------------------------------
def token_targets(pair: Pair, gold: Gold) -> tuple[np.ndarray, int, int]:
    """Per token: in the quote (1/0, -1 outside the passage text); start and end token of
    the short answer (-1 when it was cut off or is unknown)."""
    evidence = np.full(len(pair.ids), -1.0, dtype=np.float32)
    start_token = end_token = -1
    for n, (s, e) in enumerate(pair.offsets):
        if s < 0:
            continue
        evidence[n] = float(s < gold.quote[1] and e > gold.quote[0])
        if gold.answer:
            if start_token < 0 and e > gold.answer[0]:
                start_token = n
            if s < gold.answer[1]:
                end_token = n
    if gold.answer is None or start_token < 0 or pair.offsets[end_token][1] < gold.answer[1]:
        return evidence, -1, -1
    return evidence, start_token, end_token


def train(groups: Sequence[Group], e5_folder: Path, options: ReaderTraining,
          progress: Progress | None = None) -> Any:
    import torch

    from store.e5engine import cpu_has_native_bf16, load_tokenizer, thread_count

    torch.manual_seed(options.seed)
    shuffle = random.Random(options.seed)
    torch.set_num_threads(thread_count())
    tokenizer = load_tokenizer(e5_folder)
    module = reader_module(e5_folder).train()
    for layer in module.encoder.encoder.layer[: options.frozen_layers]:
        layer.requires_grad_(False)
    if options.frozen_layers:
        module.encoder.embeddings.requires_grad_(False)
    heads = [*module.relevance.parameters(), *module.tokens.parameters()]
    optimizer = torch.optim.AdamW(
        [{"params": [p for p in module.encoder.parameters() if p.requires_grad],
          "lr": options.learning_rate},
         {"params": heads, "lr": options.head_rate}], weight_decay=0.01)
    steps = max(1, options.epochs * len(groups))
    schedule = torch.optim.lr_scheduler.LambdaLR(  # linear warm-up, then linear decay
        optimizer,
        lambda s: min(1.0, (s + 1) / max(1.0, options.warmup * steps)) * max(0.0, 1 - s / steps))
    bf16 = cpu_has_native_bf16()  # emulated bf16 is slower than fp32
    order = list(groups)
    started = time.perf_counter()
    for epoch in range(options.epochs):
        shuffle.shuffle(order)
        totals = np.zeros(4)
        for step, group in enumerate(order, start=1):
            gold = [shuffle.choice(group.gold)] if group.gold else []
            wanted = options.negatives if group.answerable else options.negatives_unanswerable
            negatives = shuffle.sample(group.negatives, min(wanted, len(group.negatives)))
            if not gold and not negatives:
                continue
            pairs = encode_pairs(tokenizer, group.question, [g.passage for g in gold] + negatives)
            ids, mask = pad(pairs)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                relevance, tokens = module(torch.from_numpy(ids), torch.from_numpy(mask))
            loss, parts = group_loss(relevance, tokens, pairs, gold[0] if gold else None, options)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(module.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            totals += parts
            if progress and step % 100 == 0:
                mean = totals / step
                progress(f"epoch {epoch + 1}, step {step}/{len(order)}: binary {mean[0]:.3f} "
                         f"listwise {mean[1]:.3f} tokens {mean[2]:.3f} span {mean[3]:.3f} "
                         f"({time.perf_counter() - started:.0f} s)")
    return module.eval()


def group_loss(relevance: Any, tokens: Any, pairs: list[Pair], gold: Gold | None,
               options: ReaderTraining) -> tuple[Any, list[float]]:
    """The loss of one group (the gold pair first, if any) and its four parts."""
    import torch
    from torch.nn.functional import binary_cross_entropy_with_logits as bce
    from torch.nn.functional import cross_entropy

    target = torch.tensor([1.0] * bool(gold) + [0.0] * (len(pairs) - bool(gold)))
    binary = bce(relevance, target)
    loss = options.binary_weight * binary
    parts = [binary.item(), 0.0, 0.0, 0.0]
    width = tokens.shape[1]
    text = torch.from_numpy(np.stack([np.pad(np.array([o[0] >= 0 for o in p.offsets]),
                                             (0, width - len(p.offsets))) for p in pairs]))
    rest = 1 if gold else 0
    token_loss = torch.zeros(())
    if len(pairs) > rest:  # no token of a passage that does not answer is evidence
        off = tokens[rest:, :, 0][text[rest:]]
        token_loss = options.negative_evidence_weight * bce(off, torch.zeros_like(off))
    if gold is not None:
        listwise = torch.logsumexp(relevance, 0) - relevance[0]  # the gold passage wins
        evidence, start, end = token_targets(pairs[0], gold)
        labels = torch.from_numpy(evidence)
        inside = labels >= 0
        token_loss = token_loss + bce(tokens[0, : len(evidence), 0][inside], labels[inside])
        loss = loss + listwise
        parts[1] = listwise.item()
        if start >= 0:
            starts = tokens[0, :, 1].masked_fill(~text[0], -1e4)
            ends = tokens[0, :, 2].masked_fill(~text[0], -1e4)
            span = (cross_entropy(starts[None], torch.tensor([start]))
                    + cross_entropy(ends[None], torch.tensor([end])))
            loss = loss + options.span_weight * span
            parts[3] = span.item()
    loss = loss + options.evidence_weight * token_loss
    parts[2] = token_loss.item()
    return loss, parts


# --- measuring -------------------------------------------------------------------------------
def evaluate(reader: Reader, groups: Sequence[Group], items: dict[str, ReadingItem],
             priors: Sequence[float] = (0.0, 0.5, 1.0), k: int = 10) -> dict[str, Any]:
    """Dev metrics: reranking of the top k against the retrieval's own order, the chosen
    sentence, the short answer, and how well the best relevance separates answerable
    questions from unanswerable ones."""
    hits: dict[str, list[float]] = {"retrieval": []} | {f"reader+{w}": [] for w in priors}
    sentence_hits, span_f1, span_exact = [], [], []
    best_answerable, best_unanswerable = [], []
    for group in groups:
        shown = group.retrieved[:k]
        readings = reader(group.question, shown) if shown else []
        best = max((r.relevance for r in readings), default=-20.0)
        if not group.answerable:
            best_unanswerable.append(best)
            continue
        best_answerable.append(best)
        relevant = [p.id in group.gold_ids for p in shown]
        hits["retrieval"].append(float(any(relevant[:1])))
        for w in priors:
            scores = [r.relevance - w * math.log(rank) for rank, r in enumerate(readings, 1)]
            order = np.argsort(scores)[::-1]
            hits[f"reader+{w}"].append(float(bool(relevant) and relevant[int(order[0])]))
        if group.gold:
            gold = group.gold[0]
            (reading,) = reader(group.question, [gold.passage])
            if reading.sentences:
                start, end, _ = max(reading.sentences, key=lambda s: s[2])
                sentence_hits.append(float(start < gold.quote[1] and end > gold.quote[0]))
            item = items.get(group.id)
            if reading.span and item:
                predicted = gold.passage.text[reading.span[0]:reading.span[1]]
                span_f1.append(metrics.token_f1(predicted, item.short_answer))
                span_exact.append(float(" ".join(predicted.split()) == " ".join(
                    item.short_answer.split())))
    return {
        "questions": len(best_answerable), "unanswerable": len(best_unanswerable),
        "hit@1": {name: _mean(v) for name, v in hits.items()},
        "sentence_accuracy": _mean(sentence_hits),
        "short_answer_f1": _mean(span_f1), "short_answer_exact": _mean(span_exact),
        "answerable_auc": auc(best_answerable, best_unanswerable),
    }


def auc(positives: Sequence[float], negatives: Sequence[float]) -> float | None:
    """ROC AUC: the chance that an answerable question outscores an unanswerable one."""
    if not positives or not negatives:
        return None
    negatives_sorted = np.sort(np.asarray(negatives))
    below = np.searchsorted(negatives_sorted, positives, side="left")
    ties = np.searchsorted(negatives_sorted, positives, side="right") - below
    return float((below + 0.5 * ties).sum() / (len(positives) * len(negatives)))


def _mean(values: Sequence[float]) -> float | None:
    return round(float(np.mean(values)), 4) if values else None


def data_hash(items: Sequence[ReadingItem]) -> str:
    digest = hashlib.sha256()
    for item in sorted(items, key=lambda i: i.id):
        digest.update(repr(asdict(item) | {"source": ""}).encode())
    return digest.hexdigest()[:16]


def sample(groups: Sequence[Group], fraction: float, seed: int) -> list[Group]:
    """The first `fraction` of the questions in a fixed shuffled order: the learning curve's
    smaller sets are subsets of the larger ones."""
    if not 0 < fraction <= 1:
        raise BronwijzerError(f"fraction must be in (0, 1], not {fraction}")
    ids = sorted({g.id.removesuffix("-lodo") for g in groups})
    random.Random(seed).shuffle(ids)
    kept = set(ids[: max(1, round(fraction * len(ids)))])
    return [g for g in groups if g.id.removesuffix("-lodo") in kept]


def sample_items(items: Sequence[ReadingItem], limit: int, seed: int) -> list[ReadingItem]:
    """A fixed random sample of `limit` items (all when limit is 0 or larger)."""
    if not limit or limit >= len(items):
        return list(items)
    return random.Random(seed).sample(list(items), limit)

