import numpy as np

from cmkt.teachers.lm import LMTeacher


def test_default_teacher_gives_token_embeddings_without_special_tokens():
    teacher = LMTeacher()
    with_special = LMTeacher(drop_special_tokens=False)
    [tokens] = teacher.encode(["Hello world"])
    [full] = with_special.encode(["Hello world"])
    assert tokens.shape == (2, 384) and full.shape == (4, 384)
    assert np.allclose(tokens, full[1:-1], atol=1e-5)
    assert teacher.identity() != with_special.identity()
    assert teacher.identity() == LMTeacher().identity()
