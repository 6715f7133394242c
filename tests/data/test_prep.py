import json

import pytest
import soundfile as sf

from cmkt.data.prep import PrepConfig, prepare
from cmkt.errors import CmktError
from cmkt.data.manifest import read_manifest
from cmkt.teachers.cache import EmbeddingCache, build_cache


def test_prep_writes_manifests_mixtures_and_cache(prepared, speech_corpus):
    train = read_manifest(prepared / "train.jsonl")
    assert len(train) == 8 and all(u.text and u.noisy for u in train)
    info = sf.info(train[0].noisy)
    assert info.samplerate == 16000 and info.channels == 1
    [folder] = list((prepared / "teacher_cache").iterdir())
    cache = EmbeddingCache(folder)
    assert cache.dim == 384
    embedding = cache.get(train[0].text)
    assert embedding.shape[1] == 384 and 5 <= embedding.shape[0] <= 20


def test_cache_is_not_recomputed_when_valid(prepared):
    from cmkt.teachers.lm import LMTeacher

    class CountingTeacher(LMTeacher):
        calls = 0

        def encode(self, texts, batch_size=32):
            CountingTeacher.calls += len(texts)
            return super().encode(texts, batch_size)

    teacher = CountingTeacher()
    CountingTeacher.calls = 0
    texts = [u.text for u in read_manifest(prepared / "train.jsonl")]
    build_cache(prepared / "teacher_cache", teacher, texts)
    assert CountingTeacher.calls == 0
    build_cache(prepared / "teacher_cache", teacher, texts + ["A brand new sentence."])
    assert CountingTeacher.calls == 1


def test_prep_reports_a_missing_corpus_file(tmp_path, noise_folder):
    """Reported and skipped like an unreadable one (the others are still prepared), not a stop at the first."""
    (tmp_path / "c.tsv").write_text("path\ttext\nmissing.wav\thello\n")
    report = prepare(PrepConfig(str(tmp_path / "c.tsv"), str(noise_folder), str(tmp_path / "out"), teacher=None))
    assert len(report.skipped) == 1 and "missing.wav: file not found" in report.skipped[0]


def test_prep_skips_a_corrupt_file_and_says_so(tmp_path, noise_folder, speech_corpus):
    folder = tmp_path / "speech"
    folder.mkdir()
    (folder / "good.wav").write_bytes((speech_corpus.parent / "f_0.wav").read_bytes())
    (folder / "good.txt").write_text("The quick brown fox jumps over the lazy dog.")
    (folder / "broken.wav").write_bytes(b"not audio at all")
    report = prepare(
        PrepConfig(str(folder), str(noise_folder), str(tmp_path / "out"), teacher=None, split_fractions=(1.0, 0.0, 0.0))
    )
    assert report.counts["train"] == 1
    assert len(report.skipped) == 1 and "broken.wav" in report.skipped[0]
    assert json.loads((tmp_path / "out" / "train.jsonl").read_text().splitlines()[0])["text"].startswith("The quick")


def test_check_of_a_prepared_manifest_finds_damaged_audio_and_training_refuses_it(prepared, tmp_path):
    import shutil

    from typer.testing import CliRunner

    from cmkt.cli import app
    from cmkt.training.trainer import TrainConfig, train

    copy = tmp_path / "data"
    shutil.copytree(prepared, copy)
    assert (
        CliRunner().invoke(app, ["prep", "--speech", str(copy / "train.jsonl"), "-o", str(copy), "--check"]).exit_code
        == 0
    )
    victim = sorted((copy / "train" / "noisy").glob("*.wav"))[0]
    victim.write_bytes(b"")  # damaged after prep
    result = CliRunner().invoke(app, ["prep", "--speech", str(copy / "train.jsonl"), "-o", str(copy), "--check"])
    assert result.exit_code == 1 and victim.stem in result.output and "empty file (0 bytes)" in result.output
    with pytest.raises(CmktError, match="1 problem"):
        train(TrainConfig(str(copy / "train.jsonl"), str(copy / "valid.jsonl"), str(tmp_path / "run"), steps=1))


def test_prep_records_how_much_of_each_transcript_the_teacher_can_read(tmp_path, noise_folder, speech_corpus):
    """An English teacher spells Russian letter by letter and cannot read Chinese ([UNK]): per utterance
    in the manifest, and per language in a note."""
    voice = (speech_corpus.parent / "f_0.wav").read_bytes()
    rows = "path\ttext\tlang\n"
    for name, text, lang in [
        ("a", "The quick brown fox.", "en"),
        ("b", "Быстрая лиса.", "ru"),
        ("c", "快速的狐狸", "zh"),
    ]:
        (tmp_path / f"{name}.wav").write_bytes(voice)
        rows += f"{name}.wav\t{text}\t{lang}\n"
    (tmp_path / "c.tsv").write_text(rows, encoding="utf-8")
    report = prepare(
        PrepConfig(str(tmp_path / "c.tsv"), str(noise_folder), str(tmp_path / "out"), split_fractions=(1.0, 0.0, 0.0))
    )
    rows = {u.lang: u.extra for u in read_manifest(tmp_path / "out" / "train.jsonl")}
    assert rows["en"]["teacher_unknown"] == 0 and rows["en"]["teacher_tokens"] == 5  # 4 words and the full stop
    assert rows["ru"]["teacher_tokens"] >= 3 * 2 * 1.25  # 2 words spelled out: at least 3x English's tokens per word
    assert rows["zh"]["teacher_unknown"] > rows["zh"]["teacher_tokens"] / 2
    [note] = [n for n in report.notes if n.startswith("teacher coverage")]
    assert "en 1.2, 0%" in note and "zh 5.0, 80%" in note
