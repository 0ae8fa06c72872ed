"""What the CLI says about itself: --version, and no report path claimed for a partial run."""

from __future__ import annotations

from importlib.metadata import version

from typer.testing import CliRunner

from linguabridge.cli.main import app


def test_version():
    res = CliRunner().invoke(app, ["--version"])
    assert res.exit_code == 0
    assert res.output.strip() == f"linguabridge {version('linguabridge')}"


def test_partial_run_does_not_print_a_report_path(tmp_path, monkeypatch):
    import linguabridge.pipeline as pipeline

    monkeypatch.setattr(
        pipeline, "run_pipeline", lambda *a, **k: None
    )  # stages themselves are tested elsewhere
    res = CliRunner().invoke(app, ["run", "demo", "--out", str(tmp_path), "--only", "data"])
    assert res.exit_code == 0, res.output
    assert "report:" not in res.output
    assert "report not rebuilt" in res.output
    res = CliRunner().invoke(app, ["run", "demo", "--out", str(tmp_path)])
    assert f"report: {tmp_path / 'report' / 'index.html'}" in res.output.replace("\n", "")


def test_eval_alone_shows_its_help():
    res = CliRunner().invoke(app, ["eval"])
    assert res.exit_code == 0
    assert "Usage:" in res.output and "Example: linguabridge eval --model" in res.output


def test_set_examples_are_the_commands_own():
    mix = CliRunner().invoke(app, ["mix", "plan", "--help"]).output
    ev = CliRunner().invoke(app, ["eval", "--help"]).output
    assert "mixture.stages.0.tokens=1e9" in mix and "cpt_stage1.optim.lr" not in mix
    assert "eval.batch_size=16" in ev and "cpt_stage1.optim.lr" not in ev


COMMANDS = [
    ["run"], ["demo"], ["languages"], ["chat"], ["report"], ["data", "clean"], ["data", "thresholds"],
    ["data", "bitext", "filter"], ["data", "bitext", "render"], ["data", "synth"], ["mix", "plan"],
    ["mix", "inventory"], ["train", "stage"], ["train", "plan"], ["train", "extend-vocab"], ["eval"],
    ["eval", "fetch"], ["eval", "compare"],
]  # fmt: skip


def test_every_command_help_has_an_example():
    missing = [
        " ".join(c)
        for c in COMMANDS
        if "Example: linguabridge" not in CliRunner().invoke(app, [*c, "--help"]).output
    ]
    assert not missing, f"no Example line in --help of: {missing}"


def test_recipe_option_is_spelled_the_same_everywhere():
    for command in (["data", "clean"], ["data", "bitext", "filter"], ["data", "synth"], ["eval"]):
        assert "--recipe" in CliRunner().invoke(app, [*command, "--help"]).output, command


def test_thresholds_with_too_few_documents_writes_nothing(tmp_path):
    import linguabridge as lb

    out = tmp_path / "rules.tsv"
    res = CliRunner().invoke(
        app, ["data", "thresholds", str(lb.demo_file()), "--out", str(out), "--languages", "th"]
    )
    assert res.exit_code != 0 and not out.exists()
    assert "no language has the 20 sample documents" in res.exception.message
