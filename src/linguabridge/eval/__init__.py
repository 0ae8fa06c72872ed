"""Evaluation: benchmark x language tasks with their protocol recorded next to every number."""
