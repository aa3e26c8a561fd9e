"""Köprü core: independent of any one channel.

The layers, top to bottom (each may import only those below it; `a | b`: neither imports
the other).
import-linter's contracts in pyproject.toml and tests/unit/test_layers.py fail on a cycle
or an upward import:

cli               the `kopru` command (the composition root)
web               the admin web app: sign-in, dashboard, admin pages
serving           running Rasa, the action server, the supervisor, the event consumer
shop              the shop's order backend, kopru.yml's business settings, troubleshooting
insights          surveys, support metrics, reports, charts, demo data
desk | authoring | privacy
                  the handoff to people | training data, answers, training, models |
                  masking, log safety, a customer's data rights (export, forget)
nlu | dialogue    Köprü's Rasa components (intent classifier, response selector, policy)
storage           Köprü's tables and their store, database URLs, Rasa's tracker rows
settings | phrases   configuration from the environment | customer-facing wording
errors            the exception tree

Channels (`channels/`) and actions (`actions/`) sit above all of bot/ and are never imported
by it: the runner finds channels through credentials.yml, as Rasa does, and the action
server loads the actions package by name.
"""
