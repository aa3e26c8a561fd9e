"""Example text: the forms an NLU example is saved, compared and read from a block in."""

from __future__ import annotations

import unicodedata
from typing import Any

__all__ = ["block_examples", "clean_example", "example_of_line", "normalise_example", "plain_text"]


def plain_text(example: str) -> str:
    """The example as the model sees it: `[204518](order_number)` -> `204518`."""
    # Rasa's own reading of annotations, imported on first use: rasa.shared.nlu.training_data
    # brings numpy, scipy and redis along (a third of a second), which the admin web app
    # otherwise never loads.
    from rasa.shared.nlu.training_data.entities_parser import replace_entities

    return str(replace_entities(example))


def normalise_example(text: str) -> str:
    """The form examples are compared in: annotations stripped to their text, Unicode NFC,
    case-folded (Turkish İ as i), whitespace collapsed."""
    folded = unicodedata.normalize("NFC", plain_text(text)).casefold().replace("i\u0307", "i")
    return " ".join(folded.split())


def clean_example(text: str) -> str:
    """An example as it is saved: tabs as spaces, no surrounding whitespace."""
    return text.replace("\t", " ").strip()


def example_of_line(line: str) -> str | None:
    """The example on a line of an `examples: |` block, as Rasa's reader takes it."""
    if not line.startswith("-"):
        return None
    return line[1:].strip("\n\r ")


def block_examples(examples: Any) -> list[str]:
    """The examples of an `examples:` value: a `|` block, or a list of `text:` maps."""
    if isinstance(examples, str):
        return [e for e in map(example_of_line, examples.splitlines()) if e is not None]
    if isinstance(examples, list):
        return [
            str(item.get("text", "")).strip("\n\r ")
            for item in examples
            if isinstance(item, dict) and item
        ]
    return []
