"""Property-based tests (hypothesis) of the pieces every file passes through."""

import json

import numpy as np
import pytest
import soundfile as sf
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cmkt.audio import read_audio, resample
from cmkt.data.mixing import active_rms, mix_at_snr
from cmkt.errors import CmktError
from cmkt.inference.resampling import BlockResampler
from cmkt.inference.streaming import StreamingEnhancer
from cmkt.data.manifest import read_manifest
from cmkt.registry import build_model

RATES = [8000, 16000, 22050, 44100, 48000]
SUBTYPES = {"FLOAT": 1e-7, "PCM_24": 2.0**-22, "PCM_16": 2.0**-14}
FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FAST
@given(
    rate=st.sampled_from(RATES),
    channels=st.integers(1, 8),
    frames=st.integers(1, 3000),
    subtype=st.sampled_from(list(SUBTYPES)),
    seed=st.integers(0, 2**31),
)
def test_audio_reader_round_trips_any_rate_channels_and_subtype(tmp_path, rate, channels, frames, subtype, seed):
    samples = np.random.default_rng(seed).uniform(-1, 1, (frames, channels)).astype(np.float32)
    path = tmp_path / f"x{seed}.wav"
    sf.write(path, samples, rate, subtype=subtype)
    audio = read_audio(path)
    assert audio.samples.shape == (channels, frames) and audio.sample_rate == rate and audio.subtype == subtype
    np.testing.assert_allclose(audio.samples, samples.T, atol=SUBTYPES[subtype])
    mono16k = read_audio(path, sample_rate=16000, mono=True)
    assert mono16k.samples.shape[0] == 1 and mono16k.samples.shape[1] == -(-frames * 16000 // rate)


@FAST
@given(
    lines=st.lists(
        st.one_of(
            st.text(max_size=40),
            st.builds(
                json.dumps,
                st.dictionaries(
                    st.sampled_from(["id", "clean", "noisy", "text", "snr_db", "lang", "junk"]),
                    st.one_of(st.text(max_size=8), st.integers(), st.none()),
                    max_size=6,
                ),
            ),
        ),
        max_size=6,
    )
)
def test_manifest_loader_either_loads_or_says_which_line(tmp_path, lines):
    path = tmp_path / "m.jsonl"
    path.write_text("\n".join(lines), encoding="utf-8")
    try:
        utterances = read_manifest(path, check_files=False)
    except CmktError as exc:
        assert str(path) in str(exc)  # names the file (and the line where there is one)
    else:
        assert len({u.id for u in utterances}) == len(utterances)


@FAST
@given(
    rates=st.sampled_from([(44100, 16000), (16000, 48000), (22050, 16000), (8000, 16000)]),
    blocks=st.lists(st.integers(1, 5000), min_size=1, max_size=12),
    seed=st.integers(0, 1000),
)
def test_block_resampler_equals_whole_signal_for_any_blocks(rates, blocks, seed):
    signal = np.random.default_rng(seed).standard_normal((1, sum(blocks))).astype(np.float32)
    resampler, pieces, start = BlockResampler(*rates, 1), [], 0
    for size in blocks:
        pieces.append(resampler.push(signal[:, start : start + size]))
        start += size
    pieces.append(resampler.flush())
    np.testing.assert_allclose(np.concatenate(pieces, axis=1), resample(signal, *rates), atol=1e-5)


_MODEL = build_model("stft-mask-gru", {"hidden": 32}).eval()


@FAST
@given(blocks=st.lists(st.integers(1, 700), min_size=1, max_size=10), seed=st.integers(0, 1000))
def test_streaming_chunker_equals_offline_for_any_blocks(blocks, seed):
    signal = (0.1 * np.random.default_rng(seed).standard_normal((1, sum(blocks)))).astype(np.float32)
    with torch.no_grad():
        offline = _MODEL(torch.from_numpy(signal))[0].numpy()
    stream, pieces, start = StreamingEnhancer(_MODEL), [], 0
    for size in blocks:
        pieces.append(stream.push(signal[:, start : start + size]))
        start += size
    pieces.append(stream.flush())
    np.testing.assert_allclose(np.concatenate(pieces, axis=1), offline, atol=1e-5)


@FAST
@given(
    snr=st.floats(-10, 30, allow_subnormal=False),
    speech_len=st.integers(4000, 32000),
    noise_len=st.integers(500, 40000),
    seed=st.integers(0, 1000),
)
def test_mixer_hits_the_requested_snr_on_active_speech_and_never_clips(snr, speech_len, noise_len, seed):
    rng = np.random.default_rng(seed)
    t = np.arange(speech_len) / 16000
    clean = (0.5 * np.sin(2 * np.pi * 220 * t) * (np.sin(2 * np.pi * 1.5 * t) > 0)).astype(np.float32)
    noise = rng.standard_normal(noise_len).astype(np.float32) * float(rng.uniform(0.01, 3))
    mixed_clean, noisy = mix_at_snr(clean, noise, snr, 16000, rng)
    residual = noisy.astype(np.float64) - mixed_clean
    measured = 20 * np.log10(active_rms(mixed_clean, 16000) / np.sqrt(np.mean(residual**2)))
    assert measured == pytest.approx(snr, abs=0.05)
    assert np.abs(noisy).max() <= 1.0
