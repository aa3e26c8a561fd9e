"""The MiniLM sentence encoder run with NumPy from the installed package's files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bot.nlu.minilm import MiniLMEncoder, model_directory


@pytest.fixture(scope="module")
def encoder() -> MiniLMEncoder:
    return MiniLMEncoder()


def test_embeddings_are_unit_rows_in_input_order(encoder: MiniLMEncoder) -> None:
    texts = ["a much longer sentence about a parcel that never arrived at my door", "hi", ""]
    rows = encoder.encode(texts)
    assert rows.shape == (3, 384)
    assert rows.dtype == np.float32
    assert np.allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-5)
    # batching and length sorting do not change a row
    assert np.allclose(encoder.encode([texts[1]])[0], rows[1], atol=1e-5)


def test_paraphrases_are_closer_than_unrelated_sentences(encoder: MiniLMEncoder) -> None:
    a, b, c = encoder.encode(
        ["how do I reset my password", "I forgot my password", "what is the weather like"]
    )
    assert float(a @ b) > 0.6
    assert float(a @ c) < 0.2


def test_a_missing_package_is_named(tmp_path: Path) -> None:
    with pytest.raises(ModuleNotFoundError, match="make setup"):
        model_directory("kopru_no_such_encoder_package")
