"""linguabridge: extend a large language model to many more languages.

The package mirrors the pipeline (see ARCHITECTURE.md):
data (curate) -> mixture (plan, tokenize, pack) -> train (CPT I/II, SFT, DPO) -> eval -> report.

The Python API (``linguabridge.api``, re-exported here) takes what the CLI takes::

    import linguabridge as lb
    lb.clean(["raw/"], "curated/", languages="en,de,id")
"""

__version__ = "0.1.0"

API = (
    "build_report", "calibrate_thresholds", "clean", "count_tokens", "demo_file", "evaluate", "filter_bitext", "language_codes", "load_config",
    "plan_mixture", "render_bitext", "run", "train_stage",
)  # fmt: skip
__all__ = ["__version__", *API]


def __getattr__(name: str):
    # Imported on first use: `import linguabridge` stays instant and pulls in no torch.
    if name in API:
        from linguabridge import api

        return getattr(api, name)
    raise AttributeError(f"module 'linguabridge' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
