"""Fixtures shared by the evaluation tests."""

import numpy as np
import pytest
import soundfile as sf

from cmkt.data.manifest import Utterance, write_manifest
from tests.conftest import tone


@pytest.fixture(scope="module")
def scored_corpus(tmp_path_factory):
    """Eight utterances in two languages at two SNRs, and two 'systems' that remove half or a fifth of the noise."""
    root = tmp_path_factory.mktemp("corpus")
    rng = np.random.default_rng(0)
    utterances = []
    for index in range(8):
        lang, snr = ("en", "fr")[index % 2], (0.0, 5.0)[index // 4]
        clean = tone(1.0, freq=200 + 40 * index) * (1 + 0.5 * np.sin(np.linspace(0, 9, 16000))).astype(np.float32)
        noise = (rng.standard_normal(16000) * np.sqrt(np.mean(clean**2)) / 10 ** (snr / 20)).astype(np.float32)
        uid = f"u{index}"
        for folder, signal in (
            ("clean", clean),
            ("noisy", clean + noise),
            ("half", clean + noise / 2),
            ("fifth", clean + 0.8 * noise),
        ):
            (root / folder).mkdir(exist_ok=True)
            sf.write(root / folder / f"{uid}.wav", signal, 16000, subtype="FLOAT")
        utterances.append(Utterance(uid, f"clean/{uid}.wav", f"noisy/{uid}.wav", split="test", lang=lang, snr_db=snr))
    write_manifest(root / "test.jsonl", utterances)
    return root
