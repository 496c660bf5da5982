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

SCHEMAS = ("current", "legacy")
# the SingleTurnSample fields this export fills (ragas 0.4.3's model, checked by the tests)
CURRENT_FIELDS = ("user_input", "retrieved_contexts", "retrieved_context_ids", "response",
                  "reference", "reference_contexts")
LEGACY_FIELDS = ("question", "answer", "contexts", "ground_truth")


def ragas_row(item: Item, answer: Answer, schema: str = "current") -> dict[str, Any]:
    """One item and the assistant's answer to it as a ragas sample."""
    # markers are ours, not the answer's words: RAGAS judges plain text
    response = strip_markers(answer.text)
    contexts = [s.passage.text for s in answer.passages]
    if schema == "legacy":
        return {"question": item.question, "answer": response, "contexts": contexts,
                "ground_truth": item.reference_answer}
    if schema != "current":
        raise ValueError(f"schema must be one of {', '.join(SCHEMAS)}, not {schema!r}")
    return {
        "user_input": item.question,
        "retrieved_contexts": contexts,
        "retrieved_context_ids": [s.passage.id for s in answer.passages],
        "response": response,
        "reference": item.reference_answer,
        # the gold quotes: what context recall and precision compare the contexts with
        "reference_contexts": [e.quote for e in item.evidence],
    }
