import pytest
import torch

from cmkt.models.framing import CausalStft


@pytest.mark.parametrize("n_fft,hop,length", [(512, 128, 16000), (512, 256, 777), (320, 160, 1), (512, 128, 129)])
def test_analysis_then_synthesis_gives_the_input_back(n_fft, hop, length):
    stft = CausalStft(n_fft, hop)
    wave = torch.randn(2, length)
    frames = stft.frames(wave)
    assert frames.shape[1] == stft.frame_count(length)
    rebuilt = stft.overlap_add(stft.synthesize(stft.analyze(frames)), length)
    assert torch.allclose(rebuilt, wave, atol=1e-5)


def test_frames_only_look_back():
    stft = CausalStft(512, 128)
    wave = torch.randn(1, 4000)
    later = wave.clone()
    later[:, 2000:] += 1.0
    a, b = stft.frames(wave), stft.frames(later)
    ending_before = 2000 // 128  # frame k ends at sample (k + 1) * hop
    assert torch.equal(a[:, :ending_before], b[:, :ending_before])
    assert not torch.equal(a[:, ending_before], b[:, ending_before])


def test_hop_must_divide_the_window():
    with pytest.raises(ValueError, match="must divide"):
        CausalStft(512, 100)
