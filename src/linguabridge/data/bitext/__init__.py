"""Parallel text: filter sentence pairs (``filter``: ``rules``, ``scoring``, ``balance``), render them as
pretraining documents with the Marco templates (``render``); ``readers`` reads the bitext formats."""
