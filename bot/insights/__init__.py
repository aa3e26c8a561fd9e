"""Insights: the end-of-conversation survey and the support metrics built on it.

survey     the NPS and CSAT questions, parsing answers, storing them
topics     the intents grouped into support topics
analytics  reading conversations, handoffs and surveys for a period
metrics    NPS, CSAT, FCR, containment, escalation rate, response and handling times
periods    the report periods (from, to, days)
report     `kopru report` as text and JSON
charts     the dashboard's PNG charts
demo_data  a realistic simulated month for the demo dashboard

May import: bot.shop, bot.privacy, bot.storage, bot.settings, bot.errors, bot.phrases.
"""
