"""Authoring: intents, examples and answers as admins edit them, training and models.

training_data  the NLU YAML round-trip, its checks and the per-language summaries
answers        the domain's responses per language
training       model fingerprints and `ensure_model` (train when the data changed)
trainer        a training run in the background, with progress
models         the trained models on disk and which one is live
model_archive  checking an uploaded model archive before it is used

May import: bot.nlu, bot.dialogue, bot.storage, bot.settings, bot.errors.
"""
