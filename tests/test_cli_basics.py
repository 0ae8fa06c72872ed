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

    monkeypatch.setattr(pipeline, "run_pipeline", lambda *a, **k: None)  # stages themselves are tested elsewhere
    res = CliRunner().invoke(app, ["run", "demo", "--out", str(tmp_path), "--only", "data"])
    assert res.exit_code == 0, res.output
    assert "report:" not in res.output
    assert "report not rebuilt" in res.output
    res = CliRunner().invoke(app, ["run", "demo", "--out", str(tmp_path)])
    assert f"report: {tmp_path / 'report' / 'index.html'}" in res.output.replace("\n", "")
