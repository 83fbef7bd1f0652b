"""What an incident teaches a runbook: the suggestions of a proposed amendment, and its Markdown.

Three lessons, each a `Suggestion` with a stable key (so a lesson already pending for a runbook is not
proposed again by every incident that shows it):

- an action that did not fix it before another did (`order:`): try the one that worked first, or say why not;
- a symptom the runbook lacks: a firing alert it does not list (`alert:`), an error log signature none of
  its `log:` signals, counter-signals or checks matches (`log:`);
- a root cause the agent did not find (`cause:`), and actions a human used that the runbook does not name
  (`action:`), from a human's resolution of an escalated incident.

Only a resolved incident teaches its runbook symptoms: for an escalated or failed one the diagnosis may
be wrong, and its alerts would be taught to the wrong runbook. A human's resolution names the runbook.

What came from outside (alert names, log signatures, errors, a person's words) goes into the Markdown
through `agent.markdown` (escaped text, or a code span), so a proposal renders as what was observed.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, Field

from agent.domain.signals import Symptoms
from agent.incidents.models import ActionRecord, HumanResolution, Incident, utcnow
from agent.knowledge.runbooks import Runbook
from agent.markdown import code, inline, plain

EXECUTED = frozenset({"intent", "succeeded", "failed", "unknown"})
MAX_LOG_SIGNATURES = 3
_PLACEHOLDER = re.compile(r"<[a-z]+>")
_UNQUOTABLE = re.compile(r"[`\"\\<>\x00-\x1f\x7f]")


class Suggestion(BaseModel):
    key: str = Field(description="stable identity of the lesson, e.g. alert:HighRequestLatency")
    observed: list[str]
    change: str


class Amendment(BaseModel):
    runbook_id: str
    runbook_file: str
    incident_id: str
    source: Literal["agent", "human"]
    context: list[str] = Field(default_factory=list)
    suggestions: list[Suggestion]
    created_at: datetime = Field(default_factory=utcnow)

    @property
    def file_name(self) -> str:
        return f"{self.runbook_id}--{self.incident_id}.md"


def from_incident(incident: Incident, runbook: Runbook, symptoms: Symptoms) -> Amendment | None:
    """The lessons of an incident the agent resolved; None when the runbook already said it all."""
    if incident.status != "resolved":
        return None
    executed = [a for a in incident.actions if a.status in EXECUTED]
    suggestions = []
    if len(executed) >= 2:
        suggestions.append(_order(incident, runbook, executed[-1], executed[:-1]))
    suggestions += new_symptoms(incident, runbook, symptoms)
    if not suggestions:
        return None
    d = incident.diagnosis
    context = [
        f"incident {incident.id} was diagnosed `{runbook.id}` "
        f"({f'confidence {d.confidence:.2f}, {d.source}' if d else 'no diagnosis recorded'}) and resolved: "
        "recovery was verified"
    ]
    return _amendment(incident, runbook, "agent", context, suggestions)


def from_resolution(
    incident: Incident,
    runbook: Runbook,
    symptoms: Symptoms,
    resolution: HumanResolution,
    runbook_names: Mapping[str, str] | None = None,
) -> Amendment | None:
    """The lessons of a human's resolution of an incident the agent handed over. `runbook_names` turns the
    service's backend action names a person may give (`rollout-restart`) into the runbook's (`restart`)."""
    names = runbook_names or {}
    d = incident.diagnosis
    agent_view = (
        f"the agent diagnosed `{d.diagnosis_id}` (confidence {d.confidence:.2f}, {d.source})"
        if d is not None and d.diagnosis_id != "unknown"
        else "the agent could not diagnose it"
    )
    context = [
        f"incident {incident.id} was handed to a human ({incident.status}): "
        f"{inline(incident.escalation_reason or 'no reason recorded')}",
        f"{inline(resolution.by)} resolved it as `{runbook.id}`: {inline(resolution.root_cause)}",
    ]
    suggestions = []
    if d is None or d.diagnosis_id != runbook.id:
        suggestions.append(
            Suggestion(
                key="cause:" + hashlib.sha256(resolution.root_cause.encode()).hexdigest()[:12],
                observed=[f"{agent_view} from these symptoms"],
                change="body: describe this presentation under Symptoms and Diagnosis, so the next one is "
                f"recognised without a human: {inline(resolution.root_cause)}",
            )
        )
    failed = [a for a in incident.actions if a.status in EXECUTED]
    for given in resolution.actions_worked:
        name = names.get(given, given)
        if name not in runbook.action_names:
            suggestions.append(
                Suggestion(
                    key=f"action:{name}",
                    observed=[f"{code(name)} fixed incident {incident.id}; the runbook does not name it"],
                    change=f"actions: add {code(name)} (with params and risk), if the action server has it",
                )
            )
        elif runbook.action_names.index(name) > 0:  # the runbook has it, after others
            suggestions.append(_human_order(incident, runbook, name, failed))
    suggestions += new_symptoms(incident, runbook, symptoms)
    return _amendment(incident, runbook, "human", context, suggestions) if suggestions else None


def new_symptoms(incident: Incident, runbook: Runbook, symptoms: Symptoms) -> list[Suggestion]:
    """Firing alerts the runbook does not list and error log signatures none of its `log:` names match."""
    suggestions = []
    listed = set(runbook.alerts) | {s.signal[6:] for s in runbook.signals if s.signal.startswith("alert:")}
    if incident.source != "manual":  # a manual trigger's pseudo-alert is not a symptom
        for name in sorted(symptoms.alert_names() - listed):
            suggestions.append(
                Suggestion(
                    key=f"alert:{plain(name)}",
                    observed=[
                        f"alert {code(name)} fired in incident {incident.id}; the runbook does not list it"
                    ],
                    change=f"alerts: add {code(name)}",
                )
            )
    named = [s.signal for s in (*runbook.signals, *runbook.counter_signals)] + [
        c.signal for c in runbook.checks
    ]
    needles = [name[4:].lower() for name in named if name.startswith("log:")]
    top = sorted(symptoms.log_error_signatures.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_LOG_SIGNATURES]
    for signature, count in top:
        if any(needle in signature.lower() for needle in needles):
            continue
        needle = log_needle(signature)
        if not needle:
            continue
        suggestions.append(
            Suggestion(
                key=f"log:{needle}",
                observed=[
                    f"{count} error log line(s) {code(signature)}; no signal of the runbook matches them"
                ],
                change=f'signals: add `{{signal: "log:{needle}", op: ">", value: 0, weight: 1, '
                f'description: "{needle} in the error log"}}` (or a counter-signal, if it points elsewhere)',
            )
        )
    return suggestions


def log_needle(signature: str, limit: int = 60) -> str:
    """The words a `log:` signal could match: the first telling stretch of the error text (after the
    event name) without placeholders, e.g. "queuepool limit of size" from "request_failed: QueuePool
    limit of size <n> overflow <n> reached"; "" when nothing tells it apart (one short word: "request")."""
    message = signature.split(": ", 1)[-1]
    parts = [p.strip(" ,;:.=()[]'\"").lower() for p in _PLACEHOLDER.split(message)]
    useful = [p for p in parts if len(p) >= 12 or (len(p) >= 6 and " " in p)]
    if not useful:
        return ""
    best = next((p for p in useful if len(p) >= 12), max(useful, key=len))
    if _UNQUOTABLE.search(best):  # it could not be written in the YAML snippet suggested
        return ""
    return best if len(best) <= limit else best[:limit].rsplit(" ", 1)[0]


def describe(action: ActionRecord) -> str:
    """The action as its runbook names it, with the parameters it ran with."""
    name = action.runbook_action or action.action
    params = ", ".join(f"{k}={v}" for k, v in sorted(action.params.items()))
    return f"{name}({params})" if params else name


def _order(
    incident: Incident, runbook: Runbook, worked: ActionRecord, before: list[ActionRecord]
) -> Suggestion:
    observed = [f"`{describe(a)}` ran (attempt {a.attempt}) and {_why_not(incident, a)}" for a in before]
    observed.append(
        f"`{describe(worked)}` ran next (attempt {worked.attempt}) and recovery was verified"
        f"{_verification(incident, worked.attempt)}"
    )
    tried = ", ".join(f"`{describe(a)}`" for a in before)
    return Suggestion(
        key=f"order:{describe(worked)}",
        observed=observed,
        change=f"actions: try `{describe(worked)}` before {tried} for this presentation, or note in the "
        f"runbook why not (they did not fix incident {incident.id})",
    )


def _human_order(incident: Incident, runbook: Runbook, name: str, failed: list[ActionRecord]) -> Suggestion:
    observed = [f"`{describe(a)}` ran (attempt {a.attempt}) and {_why_not(incident, a)}" for a in failed]
    observed.append(f"`{name}` fixed it (a human's resolution)")
    return Suggestion(
        key=f"order:{name}",
        observed=observed,
        change=f"actions: try `{name}` earlier (the runbook has it at position "
        f"{runbook.action_names.index(name) + 1} of {len(runbook.action_names)})",
    )


def _why_not(incident: Incident, action: ActionRecord) -> str:
    if action.status == "failed":
        return f"the action server reported a failure ({inline(action.error or 'no detail')})"
    return f"recovery was not verified{_verification(incident, action.attempt)}"


def _verification(incident: Incident, attempt: int) -> str:
    v = next((v for v in reversed(incident.verification) if v.attempt == attempt), None)
    return f" ({v.method}: {inline(v.detail)})" if v is not None else ""


def _amendment(
    incident: Incident,
    runbook: Runbook,
    source: Literal["agent", "human"],
    context: list[str],
    suggestions: list[Suggestion],
) -> Amendment:
    return Amendment(
        runbook_id=runbook.id,
        runbook_file=Path(runbook.path).name,
        incident_id=incident.id,
        source=source,
        context=context,
        suggestions=suggestions,
    )


def render(amendment: Amendment) -> str:
    """The reviewable file: YAML front matter (for listing and de-duplication), then the proposal."""
    front = {
        "runbook": amendment.runbook_id,
        "incident": amendment.incident_id,
        "source": amendment.source,
        "created_at": amendment.created_at.isoformat(),
        "suggestions": [s.key for s in amendment.suggestions],
    }
    lines = ["---", yaml.safe_dump(front, sort_keys=False, allow_unicode=True).strip(), "---", ""]
    lines += [f"# Proposed amendment to `{amendment.runbook_id}` from incident {amendment.incident_id}", ""]
    lines += [
        "A draft for review: the agent never edits a runbook. If you agree, change "
        f"`runbooks/{amendment.runbook_file}` yourself, then delete this file.",
        "",
        "## What was observed",
        "",
    ]
    lines += [f"- {line}" for line in amendment.context]
    lines += [f"- {line}" for s in amendment.suggestions for line in s.observed]
    lines += ["", "## Suggested change", ""]
    lines += [f"- {s.change}" for s in amendment.suggestions]
    lines += [
        "",
        "## Incident",
        "",
        f"- {amendment.incident_id}: `GET /agent/incidents/{amendment.incident_id}` (timeline and report)",
    ]
    return "\n".join(lines) + "\n"
