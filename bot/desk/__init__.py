"""The agent desk: handing a conversation to people and back.

handoff     the handoff record and its states (queued, claimed, resolved, ticket, ...)
service     HandoffService and the AgentDesk interface a channel (Slack) implements
hours       business hours and holidays, in the desk's time zone
waiting     the expected wait told to a customer in the queue
escalation  why a conversation is escalated (pure decisions)
transcript  the last messages and the facts shown on an agent's card

May import: bot.insights, bot.shop, bot.privacy, bot.storage, bot.settings, bot.errors,
bot.phrases. Never a channel: the Slack desk implements `service.AgentDesk` from above.
"""
