"""Calibrated linear classifier and TF-IDF n-grams: fitting, probabilities, files."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bot.nlu.linear import CalibratedLinear
from bot.nlu.ngrams import NgramFeatures

TEXTS = [
    "where is my order", "order status please", "has my parcel shipped", "track my package",
    "I forgot my password", "reset my password", "cannot log in", "password does not work",
    "siparişim nerede", "kargom nerede", "şifremi unuttum", "şifre sıfırlama",
    "gdzie jest moje zamówienie", "status zamówienia", "zapomniałem hasła", "resetuj hasło",
]  # fmt: skip
LABELS = ["order"] * 4 + ["password"] * 4 + (["order"] * 2 + ["password"] * 2) * 2


def test_ngrams_survive_a_round_trip_through_json(tmp_path: Path) -> None:
    features = NgramFeatures.fit(TEXTS)
    features.save(tmp_path / "ngrams.json")
    loaded = NgramFeatures.load(tmp_path / "ngrams.json")
    assert loaded.size == features.size
    a, b = features.transform(["sifremi unuttum!"]), loaded.transform(["sifremi unuttum!"])
    assert np.allclose(a.toarray(), b.toarray())
    # accents stripped: the text without Turkish letters has the same features
    assert np.allclose(a.toarray(), features.transform(["şifremi unuttum!"]).toarray())


def test_two_classes_are_told_apart_with_one_against_the_rest_probabilities(
    tmp_path: Path,
) -> None:
    features = NgramFeatures.fit(TEXTS)
    model = CalibratedLinear.fit(features.transform(TEXTS), LABELS)
    assert model.classes == ["order", "password"]
    p = model.probabilities(features.transform(["where is my parcel", "zapomniałem hasła"]))
    assert ((p > 0) & (p < 1)).all()
    assert p[0].argmax() == 0 and p[1].argmax() == 1
    model.save(tmp_path, "m")
    again = CalibratedLinear.load(tmp_path, "m")
    assert np.allclose(
        again.probabilities(features.transform(TEXTS)),
        model.probabilities(features.transform(TEXTS)),
    )


def test_many_classes_including_one_with_a_single_example() -> None:
    labels = [*LABELS[:-1], "greet"]  # "greet" has one example: it is repeated for the folds
    features = NgramFeatures.fit(TEXTS)
    model = CalibratedLinear.fit(features.transform(TEXTS), labels)
    assert model.classes == ["greet", "order", "password"]
    p = model.probabilities(features.transform(["where is my order"]))
    assert p.shape == (1, 3)
    assert model.classes[int(p[0].argmax())] == "order"
    assert p[0].max() > 0.5


def test_a_single_class_is_always_certain() -> None:
    features = NgramFeatures.fit(TEXTS[:3])
    model = CalibratedLinear.fit(features.transform(TEXTS[:3]), ["order"] * 3)
    assert model.probabilities(features.transform(["anything"])).tolist() == [[1.0]]


def test_the_fast_transform_equals_scikit_learns() -> None:
    features = NgramFeatures.fit(TEXTS)
    texts = ["Where is my ORDER?? order order", "şifre", "", "zzz qqq", *TEXTS]
    fast, reference = features.transform(texts), features.transform_reference(texts)
    assert fast.shape == reference.shape
    assert np.allclose(fast.toarray(), reference.toarray(), atol=1e-6)


def test_calibration_never_reverses_the_svms_order() -> None:
    texts = [
        *("when are you open", "opening hours", "çalışma saatleri", "godziny otwarcia"),
        *("how can I contact you", "phone number", "iletişim bilgileri", "numer telefonu"),
    ]
    labels = ["hours"] * 4 + ["contact"] * 4
    features = NgramFeatures.fit(texts)
    model = CalibratedLinear.fit(features.transform(texts), labels)
    assert (model.slope > 0).all()
    p = model.probabilities(features.transform(["what are your opening hours"]))
    assert model.classes[int(p[0].argmax())] == "hours"


def test_a_text_unlike_every_class_is_unlikely_for_all_of_them() -> None:
    features = NgramFeatures.fit(TEXTS)
    model = CalibratedLinear.fit(features.transform(TEXTS), LABELS)
    sure, stranger = model.probabilities(
        features.transform(["where is my order", "xylophone quartet tonight"])
    )
    assert sure.max() > stranger.max()
