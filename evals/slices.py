"""Per-slice results: by tag, by document (of the first evidence) and by document type.

A slice is a subset of the items; within it the metrics are computed exactly as the
headline ones (the same per-item terms as the intervals), for every configuration, so an
evaluator sees where a configuration wins or loses. Slices are small: a difference within
one is rarely more than noise, which is why each row carries its item count.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from evals import stats

SLICE_METRICS = ("hit@5", "mrr@10", "citation_precision", "answer_f1", "false_refusal_rate",
                 "refusal_accuracy")
KINDS = {"tag": "tag", "document": "document (of the first evidence)",
         "document_type": "document type"}
NO_EVIDENCE = "(no evidence: unanswerable)"


def slice_keys(item: dict[str, Any], document_types: dict[str, str]) -> dict[str, list[str]]:
    """The slices one item belongs to, per kind (an item has several tags)."""
    document = item.get("document") or ""
    if document:
        kind_of_document = document_types.get(document) or "(unknown type)"
    else:
        document = kind_of_document = NO_EVIDENCE if not item["answerable"] else "(unknown)"
    return {"tag": list(item.get("tags") or []), "document": [document],
            "document_type": [kind_of_document]}


def point_values(items: Sequence[dict[str, Any]],
                 names: Sequence[str] = SLICE_METRICS) -> dict[str, float | None]:
    if not items:
        return dict.fromkeys(names)
    numerators, denominators = stats.term_matrices(items, names)
    values = stats.ratios(numerators.sum(axis=0), denominators.sum(axis=0), names)
    return {name: None if np.isnan(v) else round(float(v), 4) for name, v in zip(names, values,
                                                                                    strict=True)}


def slices(results: dict[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    """{kind: {slice: {"items", "answerable", "configs": {config: {metric: value}}}}}."""
    document_types = results.get("document_types") or {}
    configs = list(results["configs"])
    groups: dict[str, dict[str, dict[str, list[dict[str, Any]]]]] = {kind: {} for kind in KINDS}
    for item in results.get("items") or []:
        for kind, keys in slice_keys(item, document_types).items():
            for key in keys:
                groups[kind].setdefault(key, {}).setdefault(item["config"], []).append(item)
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for kind, by_key in groups.items():
        out[kind] = {}
        for key in sorted(by_key):
            per_config = by_key[key]
            counted = per_config.get(results["default_config"]) or next(iter(per_config.values()))
            out[kind][key] = {
                "items": len(counted), "answerable": sum(bool(i["answerable"]) for i in counted),
                "configs": {name: point_values(per_config.get(name, [])) for name in configs},
            }
    return out
