import numpy as np

from cmkt.teachers.lm import LMTeacher
from tests.teachers.tiny_teacher import tiny_sentence_transformer


def test_default_teacher_gives_token_embeddings_without_special_tokens():
    teacher = LMTeacher()
    with_special = LMTeacher(drop_special_tokens=False)
    [tokens] = teacher.encode(["Hello world"])
    [full] = with_special.encode(["Hello world"])
    assert tokens.shape == (2, 384) and full.shape == (4, 384)
    assert np.allclose(tokens, full[1:-1], atol=1e-5)
    assert teacher.identity() != with_special.identity()
    assert teacher.identity() == LMTeacher().identity()


def test_any_sentence_transformers_folder_works_and_gets_its_own_cache(tmp_path):
    from cmkt.teachers.cache import EmbeddingCache, build_cache

    path = tiny_sentence_transformer(tmp_path / "tiny")
    teacher = LMTeacher(str(path))
    [english, russian] = teacher.encode(["hello world", "привет мир"])
    assert english.shape == (2, 32) and russian.shape == (2, 32)
    tiny_cache = build_cache(tmp_path / "cache", teacher, ["привет мир"])
    default_cache = build_cache(tmp_path / "cache", LMTeacher(), ["привет мир"])
    assert tiny_cache != default_cache
    assert EmbeddingCache(tiny_cache).get("привет мир").shape == (2, 32)
    assert EmbeddingCache(default_cache).get("привет мир").shape[1] == 384


def test_unloadable_teacher_is_a_one_line_error(tmp_path):
    import pytest

    from cmkt.errors import CmktError

    with pytest.raises(CmktError, match="cannot load"):
        LMTeacher(str(tmp_path / "no-such-model-folder" / "x"))
