"""Inference: the SE model alone (no text, no language model) on arrays, streams and files.

Nothing under this package may import sentence-transformers or cmkt.teachers.
"""
