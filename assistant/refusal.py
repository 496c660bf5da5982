"""When to refuse and when to caution: judged on the evidence the answerer would get.

The verdict rests on signals of the retrieval, combined by a small logistic model
(`refusal_model.json`, fitted on the tune half of the shared-corpus dataset plus its
leave-one-document-out near misses by `bronwijzer eval fit-refusal`):

* `dense`: e5 similarity of the question and the best passage of the index (within the
  filters). A hybrid or dense retrieval already measured it; after a BM25-only
  retrieval the policy asks the store for that one best passage itself;
* `coverage`: the share of the question's words, weighted by rarity (IDF), found in one
  of the top three passages: an answer needs the question's specific terms;
* `agreement`: whether the top passage was found by both dense and BM25 search;
* `length`: log of the question's word count (short questions get low similarities);
* `reader`: with the reader on (assistant/reader.py), its best relevance logit among the
  passages it read: it judges whether a passage answers, not only whether it is on topic.
  The bundled model for it is `refusal_model_reader.json`, fitted the same way.

Raw BM25 scores are left out on purpose: they depend on the size of the corpus (in
the one-document demo every word is common), so a model fitted on one index would
misjudge another. With `BRONWIJZER_REFUSAL_MODEL=cosine` only `dense` counts, against the fixed
thresholds. Either way a definition question ("Wat is X?") whose term X occurs in a top
passage is answered, with a caution when the evidence is weak, never refused.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.retrieve import Retrieval
from bronwijzer.domain import BronwijzerError
from bronwijzer.settings import Options, option
from bronwijzer.text import stems, tokens
from store.index import Index

BUNDLED_MODEL = Path(__file__).with_name("refusal_model.json")
BUNDLED_READER_MODEL = Path(__file__).with_name("refusal_model_reader.json")
SIGNALS = ("dense", "coverage", "agreement", "length", "reader")
TOP_PASSAGES = 3  # the passages an answer mostly draws on
DEFINITION = re.compile(
    r"^\s*wat\s+(?:is|zijn|betekent|betekenen|houdt|houden)\s+(?:een\s+|de\s+|het\s+)?"
    r"(?P<term>.+?)(?:\s+in)?\s*\??\s*$"
    r"|^\s*wat\s+(?:verstaat|verstaan|bedoelt|bedoelen)\s+.+?\s+(?:onder|met)\s+"
    r"(?:een\s+|de\s+|het\s+)?(?P<term2>.+?)\s*\??\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class RefusalOptions(Options):
    title = "Refusal"

    refusal_model: str = option(
        "bundled",
        "How to decide to refuse or caution: `bundled` (a logistic model over several "
        "retrieval signals, assistant/refusal_model.json, fitted on the tune half by "
        "`bronwijzer eval fit-refusal`), the path of another fitted model, or `cosine` (the "
        "e5 similarity of the best passage against the two thresholds below).",
    )
    refusal_threshold: float = option(
        0.855,
        "With REFUSAL_MODEL=cosine: minimum e5 similarity of the best passage to answer; "
        "below it Bronwijzer refuses.",
    )
    caution_threshold: float = option(
        0.875,
        "With REFUSAL_MODEL=cosine: below this similarity of the best passage (and above "
        "the refusal threshold) an answer carries a caution.",
    )


@dataclass(frozen=True)
class Verdict:
    refuse: bool
    caution: bool  # answer, but say the sources may not answer the question
    evidence: float  # the dense similarity of the best passage
    score: float  # what the decision compared: p(answerable), or the cosine itself
    signals: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class RefusalModel:
    """Logistic regression over standardised signals, with its two cut-offs."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    refuse_below: float
    caution_below: float
    about: dict[str, Any] = field(default_factory=dict)  # how and on what it was fitted

    def probability(self, signals: dict[str, float]) -> float:
        z = self.bias + sum(w * (signals[f] - m) / s for f, m, s, w in
                            zip(self.features, self.mean, self.scale, self.weights, strict=True))
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))

    def to_dict(self) -> dict[str, Any]:
        return {"features": list(self.features), "mean": list(self.mean),
                "scale": list(self.scale), "weights": list(self.weights), "bias": self.bias,
                "refuse_below": self.refuse_below, "caution_below": self.caution_below,
                "about": self.about}

    @classmethod
    def load(cls, path: str | Path) -> RefusalModel:
        try:
            data = json.loads(Path(path).read_text("utf-8"))
            model = cls(tuple(data["features"]), tuple(data["mean"]), tuple(data["scale"]),
                         tuple(data["weights"]), float(data["bias"]),
                         float(data["refuse_below"]), float(data["caution_below"]),
                         dict(data.get("about", {})))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise BronwijzerError(f"{path}: not a refusal model ({exc})") from None
        unknown = set(model.features) - set(SIGNALS)
        if unknown:
            raise BronwijzerError(f"{path}: unknown signal(s) {', '.join(sorted(unknown))}")
        return model


def load_refusal_model(spec: str, reading: bool = False) -> RefusalModel | None:
    """`bundled`, a path, or `cosine` (None: the fixed similarity thresholds). Bundled
    with a reader on: the model that uses the reader's signal, when it has been fitted."""
    if spec == "cosine":
        return None
    if spec == "bundled":
        reader_model = reading and BUNDLED_READER_MODEL.is_file()
        return RefusalModel.load(BUNDLED_READER_MODEL if reader_model else BUNDLED_MODEL)
    return RefusalModel.load(Path(spec).expanduser())


class RefusalPolicy:
    """Callable: Retrieval -> Verdict."""

    def __init__(self, index: Index, options: RefusalOptions, reading: bool = False) -> None:
        self.index = index
        self.options = options
        self.model = load_refusal_model(options.refusal_model, reading)

    def __call__(self, retrieval: Retrieval) -> Verdict:
        signals = self.signals(retrieval)
        evidence = signals["dense"]
        if self.model is not None and not set(self.model.features) <= set(signals):
            raise BronwijzerError(f"the refusal model needs {', '.join(self.model.features)}"
                                  ": turn the reader on, or use a model fitted without it")
        if self.model is None:
            score, refuse_below, caution_below = (evidence, self.options.refusal_threshold,
                                                  self.options.caution_threshold)
        else:
            score = self.model.probability(signals)
            refuse_below, caution_below = self.model.refuse_below, self.model.caution_below
        if not retrieval.passages:
            return Verdict(True, False, evidence, score, signals)
        if score >= refuse_below:
            return Verdict(False, score < caution_below, evidence, score, signals)
        if defined_term_is_present(retrieval):
            return Verdict(False, True, evidence, score, signals)
        return Verdict(True, False, evidence, score, signals)

    def evidence(self, retrieval: Retrieval) -> float:
        if retrieval.best_dense is not None:
            return float(retrieval.best_dense)
        best = self.index.dense_search(retrieval.query_vector, 1, retrieval.filters)
        return best[0][1] if best else 0.0

    def signals(self, retrieval: Retrieval) -> dict[str, float]:
        words = list(dict.fromkeys(stems(retrieval.question)))
        rarity = self.index.lexical().idf(words)
        total = sum(rarity.values()) or 1.0
        coverage = max((sum(v for w, v in rarity.items() if w in set(stems(s.passage.text)))
                        / total for s in retrieval.passages[:TOP_PASSAGES]), default=0.0)
        top = retrieval.passages[0].signals if retrieval.passages else {}
        dense_found = not math.isnan(top.get("dense", math.nan))
        signals = {
            "dense": self.evidence(retrieval),
            "coverage": coverage,
            "agreement": float(dense_found and top.get("bm25", 0.0) > 0),
            "length": math.log1p(len(tokens(retrieval.question))),
        }
        if retrieval.readings:
            signals["reader"] = max(r.relevance for r in retrieval.readings.values())
        return signals


def definition_term(question: str) -> str | None:
    """X of "Wat is X?" or "Wat verstaat … onder X?"; None for other questions."""
    match = DEFINITION.match(question)
    if not match:
        return None
    return (match.group("term") or match.group("term2") or "").strip() or None


def defined_term_is_present(retrieval: Retrieval) -> bool:
    term = definition_term(retrieval.question)
    wanted = set(stems(term)) if term else set()
    return bool(wanted) and any(
        wanted <= set(stems(scored.passage.text))
        for scored in retrieval.passages[:TOP_PASSAGES]
    )
