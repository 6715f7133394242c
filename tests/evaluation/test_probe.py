import numpy as np

from cmkt.data.manifest import read_manifest
from cmkt.evaluation.probe import (
    fit_ridge,
    pooled_targets,
    probe,
    retrieval_accuracy,
    token_probe,
    token_targets,
    utterance_taps,
)
from cmkt.registry import load_model
from cmkt.teachers.cache import EmbeddingCache


def _split(rng, mixing, targets, count, texts, informative=True):
    rows = rng.integers(0, len(texts), count)
    signal = targets[rows] @ mixing if informative else rng.standard_normal((count, mixing.shape[1]))
    return signal + 0.05 * rng.standard_normal(signal.shape), targets[rows], [texts[r] for r in rows]


def test_a_probe_finds_what_features_encode_and_nothing_where_they_do_not():
    rng = np.random.default_rng(0)
    mixing = rng.standard_normal((8, 20))  # features: a linear image of the targets, plus noise
    texts = [f"sentence {i}" for i in range(30)]
    targets = rng.standard_normal((len(texts), 8))  # each transcript's (pooled) teacher embedding
    targets /= np.linalg.norm(targets, axis=1, keepdims=True)
    for informative, expected in ((True, lambda s: s.retrieval > 0.9), (False, lambda s: s.retrieval < 0.25)):
        shared = np.random.default_rng(1)
        fit, select, score = (_split(shared, mixing, targets, n, texts, informative) for n in (300, 100, 100))
        scores = probe(fit[:2], select, score)
        assert expected(scores) and abs(scores.chance - 1 / len(set(score[2]))) < 1e-12


def test_ridge_without_penalty_recovers_a_linear_map_and_exact_predictions_retrieve_every_text():
    rng = np.random.default_rng(2)
    features = rng.standard_normal((200, 5))
    targets = features @ rng.standard_normal((5, 3)) + 0.7
    np.testing.assert_allclose(fit_ridge(features, targets, 0.0)(features), targets, atol=1e-8)
    bank = np.eye(4)
    assert retrieval_accuracy(bank, bank, ["a", "b", "c", "d"]) == (1.0, 0.25)


def test_taps_and_targets_pool_one_row_per_utterance_and_one_per_token(prepared, trained_model):
    utterances = read_manifest(prepared / "valid.jsonl")
    model, _ = load_model(trained_model)
    [folder] = list((prepared / "teacher_cache").iterdir())
    cache = EmbeddingCache(folder)
    per_token = token_targets(cache, utterances)
    pooled, token_taps = utterance_taps(model, utterances, [len(t) for t in per_token])
    targets = pooled_targets(cache, utterances)
    assert pooled.shape == (len(utterances), model.tap_dim) and np.isfinite(pooled).all()
    np.testing.assert_allclose(np.linalg.norm(targets, axis=1), 1.0, atol=1e-5)
    assert [t.shape for t in token_taps] == [(len(t), model.tap_dim) for t in per_token]


def test_the_token_probe_identifies_tokens_that_features_encode():
    rng = np.random.default_rng(3)
    mixing = rng.standard_normal((8, 20))

    def split(count, informative):
        targets = [rng.standard_normal((int(rng.integers(4, 9)), 8)) for _ in range(count)]
        targets = [t / np.linalg.norm(t, axis=1, keepdims=True) for t in targets]
        features = [(t @ mixing if informative else rng.standard_normal((len(t), 20))) for t in targets]
        return [f + 0.05 * rng.standard_normal(f.shape) for f in features], targets

    informed = token_probe(split(200, True), split(50, True), split(50, True))
    blind = token_probe(split(200, False), split(50, False), split(50, False))
    assert informed.identification > 0.9 and informed.cosine > informed.mean_cosine + 0.5
    assert abs(blind.identification - blind.chance) < 0.1
