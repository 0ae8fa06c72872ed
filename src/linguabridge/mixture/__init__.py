"""Mixture stage: inventory the curated data, plan tokens per source per stage, tokenize and pack exactly."""
