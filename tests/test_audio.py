import numpy as np
import pytest
import soundfile as sf

from cmkt.audio import find_audio_files, read_audio, resample, write_audio
from cmkt.errors import CmktError
from tests.conftest import tone


def test_read_resamples_and_downmixes(tmp_path):
    stereo = np.stack([tone(1.0, 44100), tone(1.0, 44100, 880)], axis=1)
    sf.write(tmp_path / "a.wav", stereo, 44100)
    audio = read_audio(tmp_path / "a.wav", sample_rate=16000, mono=True)
    assert audio.samples.shape == (1, 16000)
    assert audio.sample_rate == 16000


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: None, "not found"),
        (lambda p: p.write_bytes(b""), "empty file (0 bytes)"),
        (lambda p: p.write_bytes(b"RIFF\x00\x00garbage that is not a wave file"), "not a readable audio file"),
        (lambda p: sf.write(p, np.zeros(0, dtype=np.float32), 16000), "no samples"),
        (lambda p: sf.write(p, np.array([0.1, np.nan, 0.2], dtype=np.float32), 16000, subtype="FLOAT"), "NaN"),
    ],
    ids=["missing", "empty-file", "corrupt", "zero-length", "nan"],
)
def test_bad_audio_gives_one_line_error_naming_the_file(tmp_path, make, message):
    path = tmp_path / "bad.wav"
    make(path)
    with pytest.raises(CmktError) as info:
        read_audio(path)
    text = str(info.value)
    assert message in text and str(path) in text and "\n" not in text


def test_resample_preserves_a_tone():
    x = tone(1.0, 48000, 1000)[None]
    y = resample(x, 48000, 16000)
    spectrum = np.abs(np.fft.rfft(y[0]))
    assert y.shape == (1, 16000)
    assert abs(np.argmax(spectrum) - 1000) <= 1


def test_write_is_atomic_and_keeps_subtype(tmp_path):
    write_audio(tmp_path / "out.flac", tone()[None], 16000, "PCM_16")
    assert sf.info(str(tmp_path / "out.flac")).subtype == "PCM_16"
    assert [p.name for p in tmp_path.iterdir()] == ["out.flac"]
    assert find_audio_files(tmp_path) == [tmp_path / "out.flac"]


def test_declared_frames_reads_a_pcm_header_and_nothing_else(tmp_path):
    import soundfile as sf

    from cmkt.audio import declared_frames

    sf.write(tmp_path / "pcm.wav", np.zeros((1000, 2), np.float32), 16000, subtype="PCM_16")
    sf.write(tmp_path / "float.wav", np.zeros(1000, np.float32), 16000, subtype="FLOAT")
    assert declared_frames(tmp_path / "pcm.wav") == 1000 and declared_frames(tmp_path / "float.wav") == 0
    data = (tmp_path / "pcm.wav").read_bytes()
    (tmp_path / "rf64.wav").write_bytes(b"RF64" + data[4:])  # another container under the same WAVE tag
    (tmp_path / "cut.wav").write_bytes(data[:30])  # the header cut inside its fmt chunk
    assert declared_frames(tmp_path / "rf64.wav") == 0 and declared_frames(tmp_path / "cut.wav") == 0
