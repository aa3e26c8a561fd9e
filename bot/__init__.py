"""Köprü core: independent of any one channel.

The layers, top to bottom (each may import only those below it; `tests/unit/test_layers.py`
and import-linter's contracts in pyproject.toml fail on a cycle or an upward import):

cli, web          the `kopru` command and the admin web app (composition roots)
serving           running Rasa, the action server, the supervisor, the event consumer
desk              the handoff to people: queue, hours, escalation, transcript
insights          surveys, support metrics, reports, charts, demo data
authoring         training data round-trip, answers, training, model archives
shop              the shop's order backend, business settings, troubleshooting flows
privacy           masking, log safety, a customer's data rights (export, forget)
nlu, dialogue     Köprü's Rasa components (intent classifier, response selector, policy)
storage           Köprü's tables and their store, database URLs, Rasa's tracker rows
settings, errors, phrases   configuration, the exception tree, customer-facing wording

Channels (`channels/`) and actions (`actions/`) sit above all of bot/ and are never imported
by it: the runner finds channels through credentials.yml, as Rasa does, and the action
server loads the actions package by name.
"""
