"""Training-time teachers. Nothing here is imported at inference."""
