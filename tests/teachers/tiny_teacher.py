"""A small sentence-transformers teacher built in the test, for the tests that need a non-default one."""

from pathlib import Path


def tiny_sentence_transformer(folder: Path) -> Path:
    """A 2-layer BERT with its own small vocabulary (English and Russian words), saved as a
    sentence-transformers folder: a non-default teacher built in the test, no download."""
    from sentence_transformers import SentenceTransformer, models
    from transformers import BertConfig, BertModel, BertTokenizerFast

    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "привет", "мир", "the", "dog"]
    folder.mkdir(parents=True)
    (folder / "vocab.txt").write_text("\n".join(words) + "\n", encoding="utf-8")
    tokenizer = BertTokenizerFast(vocab_file=str(folder / "vocab.txt"), do_lower_case=True)
    bert = BertModel(
        BertConfig(
            vocab_size=len(words),
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
            max_position_embeddings=64,
        )
    )
    bert.save_pretrained(folder / "hf")
    tokenizer.save_pretrained(folder / "hf")
    transformer = models.Transformer(str(folder / "hf"), max_seq_length=32)
    model = SentenceTransformer(modules=[transformer, models.Pooling(32)])
    model.save(str(folder / "st"))
    return folder / "st"
