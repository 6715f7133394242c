"""Two processes on the same outputs: atomic renames and the cache lock keep every result whole."""

import subprocess
import sys

import numpy as np
import soundfile as sf

CMKT = [sys.executable, "-m", "cmkt"]


def test_two_enhance_processes_on_one_output_folder(trained_model, tmp_path):
    (tmp_path / "in").mkdir()
    rng = np.random.default_rng(0)
    for index in range(12):
        sf.write(tmp_path / "in" / f"f{index}.wav", (0.1 * rng.standard_normal(16000 * 3)).astype(np.float32), 16000)
    args = CMKT + ["enhance", str(tmp_path / "in"), "--model", str(trained_model), "--threads", "1", "--overwrite"]
    subprocess.run(args + ["-o", str(tmp_path / "alone")], check=True, capture_output=True)
    both = [
        subprocess.Popen(args + ["-o", str(tmp_path / "shared")], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    for process in both:
        assert process.wait() == 0, process.stderr.read()
    assert sorted(p.name for p in (tmp_path / "shared").iterdir()) == sorted(
        p.name for p in (tmp_path / "alone").iterdir()
    )
    for path in (tmp_path / "alone").iterdir():
        assert (tmp_path / "shared" / path.name).read_bytes() == path.read_bytes()


def test_two_prep_processes_build_one_cache_without_losing_entries(speech_corpus, noise_folder, tmp_path):
    from cmkt.data.manifest import read_manifest
    from cmkt.teachers.cache import EmbeddingCache
    from cmkt.teachers.lm import LMTeacher

    args = CMKT + [
        "prep",
        "--speech",
        str(speech_corpus),
        "--noise",
        str(noise_folder),
        "-o",
        str(tmp_path / "data"),
        "--snr",
        "0",
    ]
    both = [subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for _ in range(2)]
    for process in both:
        assert process.wait() == 0, process.stderr.read()
    caches = [p for p in (tmp_path / "data" / "teacher_cache").iterdir() if p.is_dir()]
    assert len(caches) == 1
    cache = EmbeddingCache(caches[0])
    texts = {
        u.text for split in ("train", "valid", "test") for u in read_manifest(tmp_path / "data" / f"{split}.jsonl")
    }
    teacher = LMTeacher()
    for text, expected in zip(sorted(texts), teacher.encode(sorted(texts))):
        np.testing.assert_allclose(cache.get(text), expected, atol=2e-3)  # float16 storage
