"""The shop: what the bot knows about orders and the business it serves.

orders           the typed httpx client of the shop's order backend
demo_backend     a demo order backend with sample orders
business         `kopru.yml`: payment methods, refunds, delivery, hours, the survey
countries        country names in en, tr and pl
troubleshooting  the guided troubleshooting flows

May import: bot.desk.hours (business hours are part of kopru.yml), bot.insights.survey's
settings, bot.privacy, bot.storage, bot.settings, bot.errors.
"""
