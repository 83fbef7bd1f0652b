"""The incident report and a proposed amendment, rendered by a CommonMark renderer (markdown-it-py): what
came from outside shows as the text it is, never as a link, an image, a heading, HTML or an escape code."""

from __future__ import annotations

from datetime import UTC, datetime

import yaml
from markdown_it import MarkdownIt

from agent.domain.alerts import AlertSummary
from agent.domain.diagnosis import Diagnosis
from agent.domain.signals import Symptoms
from agent.incidents.models import ActionRecord, Incident, TimelineEntry, Verification
from agent.learning.amendments import from_incident, render
from agent.markdown import code, inline, plain
from agent.workflow.report import render_report

from .agent_testkit import standin_runbook

HOSTILE = (
    "[click me](http://evil.example/phish) ![pixel](http://evil.example/p.png) <script>alert(1)</script>"
    " <b>bold</b> **loud** `tick` | cell | \x1b[31mred\x1b[0m \x1b]8;;http://evil.example\x07link\x1b]8;;\x07"
    " admin\u202etxt.exe\u202c &amp;\n# A heading of theirs\n- a list item\n1. a numbered one"
)
RENDERER = MarkdownIt("commonmark").enable(["table", "strikethrough"])


def rendered(markdown: str) -> str:
    return RENDERER.render(markdown)


def assert_inert(markdown: str, headings: int) -> None:
    html = rendered(markdown)
    for tag in ("<a ", "<img", "<script", "<b>", "<table", "<ol", "<code>tick"):
        assert tag not in html, (tag, html)
    assert html.count("<h") == headings, html
    for hidden in ("\x1b", "\u202e", "\u202c", "\x07"):
        assert hidden not in markdown
    assert "click me" in html and "A heading of theirs" in html  # still there, as text


def test_outside_text_in_the_report_renders_as_text() -> None:
    now = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    incident = Incident(
        id="inc-20261203-120000-abcdef",
        status="escalated",
        service="target",
        alerts=[
            AlertSummary(name=f"TargetDown{HOSTILE}", severity=HOSTILE, annotations={"summary": HOSTILE})
        ],
        timeline=[TimelineEntry(step="gather", message=f"symptoms gathered: failing={HOSTILE}")],
        diagnosis=Diagnosis(
            diagnosis_id="db-pool-exhaustion", confidence=0.9, root_cause=HOSTILE, evidence=[HOSTILE]
        ),
        investigation={"checks": [{"name": HOSTILE, "passed": True, "detail": HOSTILE}]},
        actions=[
            ActionRecord(
                key="k", action="restart-target", params={"why": HOSTILE}, status="failed", error=HOSTILE
            )
        ],
        verification=[
            Verification(healthy=False, method="promql", started_at=now, finished_at=now, detail=HOSTILE)
        ],
        escalation_reason=HOSTILE,
    )
    report = render_report(incident, recommendation="Ask the **database owner**.")
    own = [
        "Incident",
        "What was seen",
        "Diagnosis",
        "Investigation",
        "What was tried",
        "Result",
        "What a human",
    ]
    assert_inert(report, headings=len(own))  # its own headings, no other
    assert "<strong>database owner</strong>" in rendered(report)  # the runbook's own Markdown is kept


def test_a_proposed_amendment_quotes_what_it_observed_as_code_or_text() -> None:
    runbook = standin_runbook(
        "db-pool-exhaustion", "TargetDbPoolExhausted", [{"action": "restart", "risk": "low"}]
    )
    incident = Incident(id="inc-20261203-120000-abcdef", status="resolved", service="target")
    alert = AlertSummary(name=f"Other{HOSTILE}")
    symptoms = Symptoms(alerts=[alert], log_error_signatures={f"boom {HOSTILE}": 3})
    amendment = from_incident(incident.model_copy(update={"alerts": [alert]}), runbook, symptoms)
    assert amendment is not None
    _, front, body = render(amendment).split("---\n", 2)
    assert_inert(body, headings=4)  # its title, what was observed, the change, the incident
    listed = yaml.safe_load(front)["suggestions"]  # what `GET /agent/runbooks/proposed` lists
    assert all(plain(key) == key for key in listed) and len(listed) == 2

    stray = Symptoms(log_error_signatures={"boom `x` went wrong somewhere deep": 3})
    assert from_incident(incident, runbook, stray) is None  # a signature the snippet could not quote


def test_escaping_keeps_ordinary_text_readable() -> None:
    assert inline("QueuePool limit of size <n> reached") == "QueuePool limit of size &lt;n&gt; reached"
    assert inline("error_ratio above 5% on orders-api") == "error_ratio above 5% on orders-api"
    assert inline("# 1. - [x]") == "\\# 1. - \\[x\\]"
    assert plain("line one\r\nline two\t\x00end") == "line one line two end"
    assert code("a `b` c") == "``a `b` c``" and rendered(code("<b>")) == "<p><code>&lt;b&gt;</code></p>\n"
