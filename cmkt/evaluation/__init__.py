"""Evaluation: metrics, pairing and scoring, the score cache, statistics, tables and plots."""
