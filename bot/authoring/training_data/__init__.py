"""Read and change the NLU training data (``data/nlu/<language>.yml``) for the admin web app.

Queries work on a snapshot read with the fast safe loader.  Every change is a
read-modify-write under the project's data lock (:func:`data_lock`): the files are read
again, the change is checked against the fresh data and refused with :class:`DataError`
before anything is written, then the touched files are rewritten with ruamel.yaml's
round-trip mode (comments, order, quoting and the ``examples: |`` blocks are kept, so a
change is a small diff in the repository history) and replaced atomically.

The YAML plumbing here (:class:`DataSession`, :class:`YamlFile`) is shared with
``bot.authoring.answers``, which edits the responses in ``domain.yml`` the same way.

_yaml      the project's YAML files: the round trip, the data lock, the session and its commit
_layout    blank lines and comments kept in place as entries come and go
_problems  Problem, DataError, raise_errors
_examples  example text: as saved, as compared, as read from a block
_summary   the snapshot and its per-intent, per-language counts (NluSnapshot)
_checks    what a change must satisfy, and the audit of the data (NluChecks)
_changes   add, edit and delete examples, add intents (TrainingData)
"""

from __future__ import annotations

from bot.authoring.training_data._changes import TrainingData
from bot.authoring.training_data._checks import INTENT_NAME, MAX_EXAMPLE_CHARS, annotation_problems
from bot.authoring.training_data._examples import clean_example, normalise_example, plain_text
from bot.authoring.training_data._layout import delete_item, insert_like_siblings, with_value
from bot.authoring.training_data._problems import DataError, Problem, raise_errors
from bot.authoring.training_data._summary import THIN_MINIMUM, THIN_SHARE, IntentSummary
from bot.authoring.training_data._yaml import (
    DOMAIN_FILE,
    LOCK_FILE,
    NLU_DIR,
    RULES_FILE,
    Change,
    DataSession,
    YamlFile,
    data_lock,
    edit_session,
    safe_load,
)

__all__ = [
    "DOMAIN_FILE",
    "INTENT_NAME",
    "LOCK_FILE",
    "MAX_EXAMPLE_CHARS",
    "NLU_DIR",
    "RULES_FILE",
    "THIN_MINIMUM",
    "THIN_SHARE",
    "Change",
    "DataError",
    "DataSession",
    "IntentSummary",
    "Problem",
    "TrainingData",
    "YamlFile",
    "annotation_problems",
    "clean_example",
    "data_lock",
    "delete_item",
    "edit_session",
    "insert_like_siblings",
    "normalise_example",
    "plain_text",
    "raise_errors",
    "safe_load",
    "with_value",
]
