"""SE backbones. Each returns (enhanced waveform, tap features (batch, frames, tap_dim))."""
