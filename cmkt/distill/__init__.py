"""The training-only bridge from SE features to language-model token embeddings."""

#: Frames averaged into one before any bridge: a token spans 10+ frames of 8 ms, so 2 halves
#: the bridge's cost and keeps the alignment (docs/BENCHMARKS.md, step time). Torch-free for the CLI.
DEFAULT_BRIDGE_STRIDE = 2
