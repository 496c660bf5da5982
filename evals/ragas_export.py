"""Rows for RAGAS: one answered item per JSON line, in ragas' SingleTurnSample schema.

ragas 0.2 and later read `user_input`, `retrieved_contexts`, `response`, `reference`
and `reference_contexts` (and optionally `retrieved_context_ids`). The older names
(`question`, `answer`, `contexts`, `ground_truth`) are kept behind `--schema legacy` for
ragas 0.1 pipelines: current ragas ignores them without an error and loads empty samples.
"""

from __future__ import annotations

from typing import Any

from assistant.cite import strip_markers
from bronwijzer.domain import Answer
from evals.dataset import Item

# the fields each schema fills, in order (current: ragas 0.4.3's SingleTurnSample)
FIELDS = {
    "current": ("user_input", "retrieved_contexts", "retrieved_context_ids", "response",
                "reference", "reference_contexts"),
    "legacy": ("question", "answer", "contexts", "ground_truth"),
}
SCHEMAS = tuple(FIELDS)


def ragas_row(item: Item, answer: Answer, schema: str = "current") -> dict[str, Any]:
    """One item and the assistant's answer to it as a ragas sample."""
    if schema not in FIELDS:
        raise ValueError(f"schema must be one of {', '.join(SCHEMAS)}, not {schema!r}")
    # markers are ours, not the answer's words: RAGAS judges plain text
    response = strip_markers(answer.text)
    contexts = [s.passage.text for s in answer.passages]
    if schema == "legacy":
        values: tuple[Any, ...] = (item.question, response, contexts, item.reference_answer)
    else:
        # the gold quotes are what context recall and precision compare the contexts with
        values = (item.question, contexts, [s.passage.id for s in answer.passages], response,
                  item.reference_answer, [e.quote for e in item.evidence])
    return dict(zip(FIELDS[schema], values, strict=True))
