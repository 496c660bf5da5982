"""The machine a benchmark ran on (CPU model and vector flags, memory, load average) and
the latency timer the parts share."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

VECTOR_FLAGS = {"avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile", "avx512_vnni"}


def machine() -> dict[str, Any]:
    import platform

    import psutil

    from store.e5engine import cpu_has_native_bf16

    return {"cpus": os.cpu_count(), "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "python": platform.python_version(), "cpu_model": cpu_model(),
            "cpu_vector_flags": sorted(cpu_flags() & VECTOR_FLAGS),
            "aten_cpu_capability": os.environ.get("ATEN_CPU_CAPABILITY", ""),
            "bf16_autocast": cpu_has_native_bf16()}


def cpu_model() -> str:
    for line in _cpuinfo().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform_processor()


def cpu_flags() -> set[str]:
    for line in _cpuinfo().splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def _cpuinfo() -> str:
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""


def platform_processor() -> str:
    import platform

    return platform.processor() or "unknown"


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def timed(call: Callable[[str], Any], questions: list[str], repeat: int) -> dict[str, float]:
    """Milliseconds per call over `repeat` rounds of `questions`: p50, p95 and max."""
    samples = []
    for _ in range(repeat):
        for question in questions:
            started = time.perf_counter()
            call(question)
            samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return {"p50": round(statistics.median(samples), 1),
            "p95": round(samples[int(0.95 * (len(samples) - 1))], 1),
            "max": round(samples[-1], 1)}
