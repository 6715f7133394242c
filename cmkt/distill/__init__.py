"""The training-only bridge from SE features to language-model token embeddings."""
