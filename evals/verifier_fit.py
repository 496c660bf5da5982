"""Train the verifier (assistant/verify.py) on the tune halves of the eval sets.

Every tune question is asked of the index. Its top `CANDIDATES` passages are the
examples: passages that hold a gold quote are positives (a gold passage the retrieval
missed is added), the others hard negatives. Hand-written unanswerables and
leave-one-document-out near misses add questions with negatives only. The loss is a
softmax over each question's group (the gold passage should win) plus a binary term
(so one logit also says "no passage answers"). The test halves are never seen.
Two-fold cross-validation on tune chose all 12 layers (6 lost to the retrieval) and the
rank prior (README); epochs, rates and negative counts were set once, not tuned.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from assistant.verify import PRIOR, pair_batch, pair_scorer, passage_text, save_verifier
from bronwijzer.domain import BronwijzerError
from evals import metrics
from evals.dataset import Item
from evals.lodo import near_misses

CANDIDATES = 20


@dataclass(frozen=True)
class TrainingOptions:
    epochs: int = 2
    learning_rate: float = 3e-5  # the encoder's; the new head learns at HEAD_RATE
    head_rate: float = 1e-3
    negatives: int = 15  # per question with a gold passage
    negatives_unanswerable: int = 6
    positives: int = 2
    binary_weight: float = 0.5
    warmup: float = 0.1
    seed: int = 0


@dataclass(frozen=True)
class Group:
    question: str
    positives: list[str]  # passage texts
    negatives: list[str] = field(default_factory=list)


def collect_groups(assistant: Any, items: Sequence[Item], documents: Sequence[str]
                   ) -> list[Group]:
    """One group per question: its retrieved passages, split into gold and not."""
    index = assistant.index
    everything = list(index.passages(sorted(index.visible_ids())).values())
    groups = []
    for item in items:
        retrieved = [s.passage for s in assistant.retrieve(item.question, k=CANDIDATES).passages]
        if not item.answerable:
            groups.append(Group(item.question, [], [passage_text(p) for p in retrieved]))
            continue
        def gold(p: Any, item: Item = item) -> bool:
            return metrics.relevant_to_any(p.document, p.text, item.evidence)
        positives = [p for p in retrieved if gold(p)] or [p for p in everything if gold(p)][:1]
        if positives:
            groups.append(Group(item.question, [passage_text(p) for p in positives],
                                [passage_text(p) for p in retrieved if not gold(p)]))
    for miss in near_misses(items, documents):
        retrieved = assistant.retrieve(miss.question, miss.filters, k=CANDIDATES).passages
        groups.append(Group(miss.question, [], [passage_text(s.passage) for s in retrieved]))
    return groups


def train(groups: Sequence[Group], e5_folder: Path, options: TrainingOptions,
          progress: Callable[[str], None] | None = None) -> Any:
    import torch

    from ingest.e5engine import load_tokenizer, thread_count

    torch.manual_seed(options.seed)
    shuffle = random.Random(options.seed)
    torch.set_num_threads(thread_count())
    tokenizer = load_tokenizer(e5_folder)
    scorer = pair_scorer(e5_folder).train()
    optimizer = torch.optim.AdamW(
        [{"params": [p for p in scorer.encoder.parameters() if p.requires_grad],
          "lr": options.learning_rate},
         {"params": scorer.head.parameters(), "lr": options.head_rate}], weight_decay=0.01)
    steps = max(1, options.epochs * len(groups))
    schedule = torch.optim.lr_scheduler.LambdaLR(  # linear warm-up, then linear decay
        optimizer, lambda s: min(1.0, (s + 1) / (options.warmup * steps)) * max(0.0, 1 - s / steps))
    order = list(groups)
    started = time.perf_counter()
    for epoch in range(options.epochs):
        shuffle.shuffle(order)
        total = 0.0
        for group in order:
            positives = shuffle.sample(group.positives, min(options.positives,
                                                            len(group.positives)))
            wanted = options.negatives if positives else options.negatives_unanswerable
            negatives = shuffle.sample(group.negatives, min(wanted, len(group.negatives)))
            if not positives and not negatives:
                continue
            ids, mask = pair_batch(tokenizer, group.question, positives + negatives)
            target = torch.tensor([1.0] * len(positives) + [0.0] * len(negatives))
            with torch.autocast("cpu", dtype=torch.bfloat16):
                logits = scorer(torch.from_numpy(ids), torch.from_numpy(mask))
            loss = options.binary_weight * torch.nn.functional.binary_cross_entropy_with_logits(
                logits, target)
            if positives:  # the gold passages should win their group
                loss = loss + torch.logsumexp(logits, 0) - torch.logsumexp(
                    logits[: len(positives)], 0)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(scorer.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            total += loss.item()
        if progress:
            progress(f"epoch {epoch + 1}/{options.epochs}: loss {total / max(1, len(order)):.3f}"
                     f" ({time.perf_counter() - started:.0f} s)")
    return scorer.eval()


def fit_verifier(assistant: Any, items: Sequence[Item], documents: Sequence[str],
                 e5_folder: Path, out: Path, about: dict[str, Any],
                 options: TrainingOptions | None = None,
                 progress: Callable[[str], None] | None = None) -> Path:
    """Collect, train and save; returns the folder."""
    options = options or TrainingOptions()
    groups = collect_groups(assistant, items, documents)
    if not any(g.positives for g in groups):
        raise BronwijzerError("no tune question has a gold passage in this index (is it an "
                              "index of ../shared/corpus?): nothing to learn")
    if progress:
        progress(f"{len(groups)} questions, {sum(bool(g.positives) for g in groups)} "
                 "with a gold passage")
    scorer = train(groups, e5_folder, options, progress)
    digest = hashlib.sha256(repr([asdict(g) for g in groups]).encode()).hexdigest()[:16]
    manifest = about | {
        "e5_folder": str(e5_folder), "prior": PRIOR, "options": asdict(options),
        "questions": len(groups), "examples_sha256": digest,
        "trained_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    return save_verifier(scorer, out, manifest)
