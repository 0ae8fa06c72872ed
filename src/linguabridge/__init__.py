"""linguabridge: extend a large language model to many more languages.

The package mirrors the pipeline (see ARCHITECTURE.md):
data (curate) -> mixture (plan, tokenize, pack) -> train (CPT I/II, SFT, DPO) -> eval -> report.
"""

__version__ = "0.1.0"
