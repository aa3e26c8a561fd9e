"""What a customer reads of an agent's Slack reply (channels/slack.py: plain_text)."""

from __future__ import annotations

import pytest

from channels.slack import plain_text

CASES = [
    # links
    ("<https://x.example|the link>", "the link (https://x.example)"),
    ("<https://x.example>", "https://x.example"),
    ("<http://x.example/a?b=1&amp;c=2>", "http://x.example/a?b=1&c=2"),
    ("<https://x.example/a?b=1&amp;c=2|here>", "here (https://x.example/a?b=1&c=2)"),
    ("<https://x.example|https://x.example>", "https://x.example"),
    (
        "See <https://x.example|the link>, then reply.",
        "See the link (https://x.example), then reply.",
    ),
    (
        "<https://a.example|a> and <https://b.example|b>",
        "a (https://a.example) and b (https://b.example)",
    ),
    # e-mail addresses
    ("<mailto:a@b.c|a@b.c>", "a@b.c"),
    ("<mailto:a@b.c>", "a@b.c"),
    ("Write to <mailto:a@b.c|a@b.c> please", "Write to a@b.c please"),
    # users, special mentions, channels
    ("<@U123>", ""),
    ("<@U123> Merhaba!", "Merhaba!"),
    ("<@U123|ayse>", "ayse"),
    ("Hi <@U123|ayse>!", "Hi ayse!"),
    ("<!here>", ""),
    ("<!here> hello", "hello"),
    ("<!channel> <!everyone> ok", "ok"),
    ("<#C1|general>", "general"),
    ("in <#C1|general> today", "in general today"),
    # Slack's escapes
    ("&lt;b&gt; &amp;", "<b> &"),
    ("AT&amp;T &lt;3", "AT&T <3"),
    ("&amp;lt;", "&lt;"),
    # plain text, Turkish and Polish letters
    ("Your order ships tomorrow.", "Your order ships tomorrow."),
    ("Siparişiniz yarın kargoya verilecek. İyi günler, Çağrı!", None),
    ("ĞÜŞİÖÇ ğüşıöç", None),
    ("Zamówienie wyślemy jutro. Dziękujemy, Łukasz! ąćęłńóśźż ĄĆĘŁŃÓŚŹŻ", None),
    ("Line one\nline two", None),
    ("", ""),
    # surrounding whitespace
    ("  hello  ", "hello"),
    ("\n\thello world \n", "hello world"),
    ("  <@U123>  ", ""),
]


@pytest.mark.parametrize(
    ("mrkdwn", "expected"), [pytest.param(m, e, id=repr(m)[:60]) for m, e in CASES]
)
def test_plain_text(mrkdwn: str, expected: str | None) -> None:
    assert plain_text(mrkdwn) == (mrkdwn if expected is None else expected)
