"""Data preparation: corpus layouts -> manifests, mixing at SNRs, training datasets."""
