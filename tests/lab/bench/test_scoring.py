"""The benchmark's judgement: a run scored from the agent's incidents against the ground truth, the floor
of each run, and the summary's rates. Pure functions over the shapes the agent's API answers with."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from lab.bench.groundtruth import FaultTruth
from lab.bench.multi import Scenario, Step, score
from lab.bench.observer import IncidentView, TimelineEntry
from lab.bench.report import RunLog, render_markdown, summarize, write_outputs
from lab.bench.scenario import NO_FAULT, FaultLog, RunResult, floor_seconds, score_agent_run

T0 = datetime(2026, 12, 1, 8, 0, 0, tzinfo=UTC)
BAD_DEPLOY = FaultTruth(
    name="bad_deploy",
    expected_diagnosis="bad-release",
    fixed_by=["rollback-release"],
    not_fixed_by=["restart-target"],
)
FLOORS = {"TargetErrorsAfterRelease": 8.0, "TargetHighErrorRatio": 13.0}


def at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat()


def incident(diagnosis: str, actions: list[tuple[str, str, float, float]], resolved: bool) -> IncidentView:
    """actions: (name, status, started s, finished s) after the injection at T0."""
    body: dict[str, Any] = {
        "id": "inc-1",
        "service": "target",
        "status": "resolved" if resolved else "failed",
        "opened_at": at(9),
        "mitigated_at": at(40) if resolved else None,
        "diagnosis": {"diagnosis_id": diagnosis},
        "alerts": [{"name": "TargetErrorsAfterRelease"}, {"name": "TargetHighErrorRatio"}],
        "actions": [
            {"action": name, "status": status, "started_at": at(start), "finished_at": at(end)}
            for name, status, start, end in actions
        ],
        "verification": [{"healthy": resolved, "healthy_for_seconds": 8.0 if resolved else 0.0}],
        "timeline": [
            {"ts": at(9), "step": "open"},
            {"ts": at(10), "step": "diagnose", "data": {"llm_calls": 1, "llm_tokens": 1290}},
            {"ts": at(11), "step": "execute"},
        ],
    }
    return IncidentView.model_validate(body)


def result(fault: str = "bad_deploy") -> RunResult:
    return RunResult(fault=fault, responder="agent", run=1, started_at=T0)


def test_the_right_fix_is_scored_with_its_times_and_floor() -> None:
    view = incident("bad-release", [("rollback-release", "succeeded", 11, 12.5)], resolved=True)
    scored = score_agent_run(result(), [view], BAD_DEPLOY, FLOORS)
    assert scored.paged and scored.diagnosis_correct and scored.mitigated
    assert scored.seconds_to_page == 9 and scored.seconds_to_diagnosis == 10
    assert scored.seconds_to_first_action == 11 and scored.seconds_to_mitigate == 40
    assert scored.harmful_actions == [] and scored.wrong_actions == []
    assert scored.workflow_steps == 3 and (scored.llm_calls, scored.llm_tokens) == (1, 1290)
    # the fastest paging alert (8 s) + the rollback's own 1.5 s + the 8 s hold
    assert scored.floor_seconds == pytest.approx(17.5)
    assert scored.page_floor_seconds == 8.0


def test_a_restart_on_a_bad_release_is_harmful_and_a_wrong_diagnosis_is_counted() -> None:
    view = incident("memory-leak", [("restart-target", "succeeded", 11, 14)], resolved=False)
    scored = score_agent_run(result(), [view], BAD_DEPLOY, FLOORS)
    assert scored.paged and scored.diagnosis_correct is False and not scored.mitigated
    assert scored.harmful_actions == ["restart-target"] and scored.floor_seconds is None


def test_planned_and_dry_run_actions_are_not_executions() -> None:
    view = incident("bad-release", [("rollback-release", "dry-run", 11, 11), ("x", "skipped", 0, 0)], False)
    assert score_agent_run(result(), [view], BAD_DEPLOY, FLOORS).actions == []


def test_anything_done_on_a_no_fault_run_is_a_false_positive() -> None:
    view = incident("bad-release", [("rollback-release", "succeeded", 11, 12)], resolved=True)
    scored = score_agent_run(result(NO_FAULT), [view], None, FLOORS)
    assert scored.harmful_actions == ["rollback-release"]
    quiet = score_agent_run(result(NO_FAULT), [], None, FLOORS)
    summary = summarize([scored, quiet])
    assert summary.false_positive_rate == {"agent": 0.5}


def test_floor_needs_an_alert_the_profile_knows() -> None:
    assert floor_seconds(FLOORS, ["SomethingElse"], 1.0, 8.0) is None
    assert floor_seconds(FLOORS, ["TargetHighErrorRatio"], 0.0, 8.0) == 21.0


def test_summary_rates_and_percentiles_per_fault() -> None:
    runs = []
    for i, ttm in enumerate([20.0, 30.0, 40.0, None]):
        run = result()
        run.run, run.paged, run.diagnosis_correct = i + 1, True, ttm is not None
        run.mitigated, run.seconds_to_mitigate, run.floor_seconds = ttm is not None, ttm, 10.0
        runs.append(run)
    row = summarize(runs).rows[0]
    assert (row.runs, row.detection_rate, row.mitigation_rate) == (4, 1.0, 0.75)
    assert row.diagnosis_rate == 0.75
    assert row.median_ttm == 30.0 and row.p95_ttm == 40.0 and row.ttm_over_floor == 3.0


def test_the_markdown_table_has_a_row_per_fault_and_responder_and_the_totals() -> None:
    view = incident("bad-release", [("rollback-release", "succeeded", 11, 12.5)], resolved=True)
    runs = [
        score_agent_run(result(), [view], BAD_DEPLOY, FLOORS),
        score_agent_run(result(NO_FAULT), [], None),
    ]
    text = render_markdown(summarize(runs))
    lines = text.splitlines()
    assert lines[0].startswith("| responder | service | fault | runs |")
    assert lines[2].startswith("| agent | target | bad_deploy | 1 | 100% | 100% | 100% | 0 | 0 |")
    # steps, LLM calls, LLM agreement (no answer in this timeline) and tokens per incident
    assert lines[2].endswith("| 3.0 | 1.0 | - | 1290 |")

    assert lines[3].startswith("| agent | target | all faults |")
    assert "False-positive rate on no-fault runs (agent): 0%" in text


def test_the_run_log_keeps_each_run_on_disk_as_it_lands(tmp_path: Path) -> None:
    """A bench stopped hours in is summarized from what it wrote, not from memory."""
    view = incident("bad-release", [("rollback-release", "succeeded", 11, 12.5)], resolved=True)
    log = RunLog(tmp_path / "results" / "runs.jsonl")
    log.record(score_agent_run(result(), [view], BAD_DEPLOY, FLOORS))
    assert len(log.path.read_text().splitlines()) == 1
    log.record(score_agent_run(result(NO_FAULT), [], None))

    again = RunLog.read(log.path)
    assert again == log.results
    assert again[0].mitigated and again[0].actions == ["rollback-release"]
    assert summarize(again).rows == summarize(log.results).rows

    written = write_outputs(again, summarize(again), tmp_path / "out")
    assert RunLog.read(written["json"]) == again  # bench.json reads back the same as the run log


def test_a_run_log_replaces_the_last_bench_only_at_its_first_run(tmp_path: Path) -> None:
    path = tmp_path / "runs.jsonl"
    path.write_text(result().model_dump_json() + "\n" + result(NO_FAULT).model_dump_json() + "\n")
    log = RunLog(path)
    assert log.results == [] and len(RunLog.read(path)) == 2
    log.record(result("crash"))
    assert [r.fault for r in RunLog.read(path)] == ["crash"]


def test_llm_answers_agreeing_with_the_evidence_are_counted_per_fault() -> None:
    def diagnose(answer: str | None, agreed: bool | None, fallback: str | None) -> dict[str, Any]:
        data = {"llm_calls": 1, "llm_answer": answer, "llm_agreed": agreed, "llm_fallback": fallback}
        return {"ts": at(10), "step": "diagnose", "data": data}

    view = incident("bad-release", [("rollback-release", "succeeded", 11, 12.5)], resolved=True)
    # an agreeing answer, one the evidence did not support, and one unparsable (no answer, a fallback)
    view.timeline[1:2] = [
        TimelineEntry.model_validate(e)
        for e in (
            diagnose("bad-release", True, None),
            diagnose("disk-full", False, "unsupported"),
            diagnose(None, None, "unparsable"),
        )
    ]
    scored = score_agent_run(result(), [view], BAD_DEPLOY, FLOORS)
    assert (scored.llm_calls, scored.llm_answers, scored.llm_agreed, scored.llm_fallbacks) == (3, 2, 1, 2)
    row = summarize([scored, score_agent_run(result(), [], BAD_DEPLOY, FLOORS)]).rows[0]
    assert row.llm_agreement_rate == 0.5
    assert "| 50% |" in render_markdown(summarize([scored]))
    assert summarize([score_agent_run(result(), [], BAD_DEPLOY)]).rows[0].llm_agreement_rate is None


def other_service(name: str, action: str) -> IncidentView:
    view = incident("memory-leak", [(action, "succeeded", 12, 13)], resolved=True)
    return view.model_copy(update={"id": f"inc-{name}", "service": name})


def test_an_action_on_another_service_during_a_run_is_cross_service_and_harmful() -> None:
    right = incident("bad-release", [("rollback-release", "succeeded", 11, 12.5)], resolved=True)
    scored = score_agent_run(result(), [right, other_service("worker", "restart-worker")], BAD_DEPLOY, FLOORS)
    assert scored.mitigated and scored.diagnosis_correct and scored.actions == ["rollback-release"]
    assert scored.cross_service_actions == ["restart-worker"] and scored.harmful_actions == ["restart-worker"]


POISON = FaultTruth(
    name="job_poison",
    service="worker",
    expected_diagnosis="poison-message",
    fixed_by=["dead-letter-jobs"],
    not_fixed_by=["restart-worker", "scale-consumers"],
)
POOL = FaultTruth(
    name="db_pool",
    expected_diagnosis="db-pool-exhaustion",
    fixed_by=["remediate-db-pool-exhaustion", "restart-target"],
)


def test_a_scenario_scores_each_fault_on_its_own_incident() -> None:
    pool = incident("db-pool-exhaustion", [("remediate-db-pool-exhaustion", "succeeded", 11, 12)], True)
    poison = incident("poison-message", [("dead-letter-jobs", "succeeded", 20, 21)], True)
    poison = poison.model_copy(update={"id": "inc-2", "service": "worker"})
    stray = other_service("checkout", "restart-checkout")
    scenario = Scenario(name="one fault per service", steps=[Step(fault="db_pool"), Step(fault="job_poison")])
    first, second = score(scenario, [(POOL, T0), (POISON, T0)], [pool, poison, stray], 1, page_over=True)
    assert (first.service, first.diagnosis_correct, first.mitigated) == ("target", True, True)
    assert (second.service, second.diagnosis_correct, second.mitigated) == ("worker", True, True)
    assert second.actions == ["dead-letter-jobs"] and second.harmful_actions == []
    assert first.cross_service_actions == ["restart-checkout"]  # a service with no fault: never right
    # the same poison incident restarting the worker would have been harmful (it fixes no active fault)
    wrong = poison.model_copy(update={"actions": [{"action": "restart-worker", "status": "succeeded"}]})
    _, judged = score(scenario, [(POOL, T0), (POISON, T0)], [pool, wrong], 1, page_over=True)
    assert judged.harmful_actions == ["restart-worker"]
    # the page not over at the end: nothing counts as mitigated
    assert not any(r.mitigated for r in score(scenario, [(POOL, T0), (POISON, T0)], [pool, poison], 1, False))


def test_another_lanes_incident_is_not_cross_service_while_its_fault_is_in() -> None:
    right = incident("bad-release", [("rollback-release", "succeeded", 11, 12.5)], resolved=True)
    faults = FaultLog()
    window = faults.begin("worker")  # the worker's lane has a fault in meanwhile
    worker = other_service("worker", "restart-worker").model_copy(update={"opened_at": datetime.now(UTC)})
    scored = score_agent_run(result(), [right, worker], BAD_DEPLOY, FLOORS, faults)
    assert scored.cross_service_actions == [] and scored.harmful_actions == []
    faults.end(window)
    later = worker.model_copy(update={"opened_at": datetime.now(UTC) + timedelta(seconds=5)})
    scored = score_agent_run(result(), [right, later], BAD_DEPLOY, FLOORS, faults)
    assert scored.cross_service_actions == ["restart-worker"]  # after its fault: nobody's business


def after(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_an_incident_merged_into_a_later_one_is_scored_on_the_one_that_handled_it() -> None:
    """Seen on the lab: a dependency outage injected while a disk fix was verified opened an incident
    that waited, then merged into the incident opened after the disk fix, which ran the right fix."""
    disk = FaultTruth(name="disk_fill", expected_diagnosis="disk-full", fixed_by=["clean-disk"])
    fallback = "enable-dependency-fallback"
    outage = FaultTruth(name="dependency_outage", expected_diagnosis="dependency-outage", fixed_by=[fallback])
    cleaned = incident("disk-full", [("clean-disk", "succeeded", 11, 12)], True)
    waited = incident("dependency-outage", [], False).model_copy(
        update={"id": "inc-2", "status": "merged", "merged_into": "inc-3", "opened_at": after(15)}
    )
    handled = incident("dependency-outage", [(fallback, "succeeded", 41, 42)], True)
    handled = handled.model_copy(update={"id": "inc-3", "opened_at": after(40), "mitigated_at": after(50)})
    scenario = Scenario(
        name="a fault while another is verified",
        steps=[Step(fault="disk_fill"), Step(fault="dependency_outage", when="verifying")],
    )
    first, second = score(scenario, [(disk, T0), (outage, after(5))], [cleaned, waited, handled], 1, True)
    assert first.actions == ["clean-disk"] and first.mitigated
    assert second.diagnosis_correct and second.mitigated and second.actions == [fallback]
    assert second.seconds_to_page == 10.0  # paged when the merged incident opened
    assert second.seconds_to_mitigate == 45.0
    # a single fault's run: the page is the first incident's, the outcome the one it merged into
    single = score_agent_run(result(), [waited, handled], outage, FLOORS)
    assert single.mitigated and single.diagnosis == "dependency-outage"
    assert single.seconds_to_page == 15.0
    # a merge into an incident the run did not see is followed no further
    alone = score_agent_run(result(), [waited], outage, FLOORS)
    assert not alone.mitigated
