"""base.html, which every page extends: what an app's own templates can add to it."""

from django.template import engines


def test_a_page_adds_its_own_stylesheet_to_the_head():
    """An app links its CSS through the head block, after the site's own, without editing base.html."""
    page = engines["django"].from_string(
        '{% extends "base.html" %}{% block head %}<link rel="stylesheet" href="/static/notes/notes.css">'
        "{% endblock %}"
    )
    head = page.render({}).split("</head>")[0]
    assert head.index("css/site.css") < head.index('href="/static/notes/notes.css"')
