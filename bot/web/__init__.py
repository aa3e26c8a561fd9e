"""Köprü's web app (login, dashboard and admin pages; see bot.web.server), one small module per job.

settings  WebSettings: databases, admin token, cookie secret
session   signed session cookies and CSRF tokens (itsdangerous)
session_records  sign-outs and last use of sessions, in Köprü's store
multipart streaming multipart/form-data uploads (python-multipart)
templates the Jinja2 environment of the pages (templates/*.html: every value escaped)
html      the page shell and tables through the templates; `Html`, escaping helpers
responses HTML, redirect and cookie responses
context   the shared state on app.ctx.web (settings, sessions, data)
auth      the sign-in gate, /login and /logout
data      the live and demo stores, and the per-period report cache
dashboard /dashboard and its chart images
dashboard_view  what the dashboard page (templates/dashboard.html) shows (pure)
tracker   Rasa's SQL tracker store, read for the review page
admin     the admin pages' routes (admin_intents, admin_answers, admin_training, admin_review),
          their state on app.ctx.admin (admin_context) and shared HTML (admin_view)
app       create_app: wires the above together with /health, /static and security headers
"""
