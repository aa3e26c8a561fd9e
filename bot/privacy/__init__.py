"""Privacy: what is masked where, and a customer's data rights.

masking    masking e-mail addresses, phone numbers, cards and IBANs in text
logsafety  a logging filter that masks secrets and customer data, bounded in time
rights     `kopru export` and `kopru forget`: one customer's rows everywhere

May import: bot.storage, bot.settings, bot.errors.
"""
