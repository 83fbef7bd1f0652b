"""The monitor's baseline detector, and one monitor poll loop against the stand-in target (read through
the catalog entry's probes and PromQL)."""

from __future__ import annotations

from agent.intake.monitor import AnomalyDetector, MonitorLoop, Sample

from .agent_testkit import Lab, WorkflowFactory


def sample(error_rate: float = 0.5, p95: float = 50.0, rps: float = 10.0) -> Sample:
    return Sample(error_rate=error_rate, p95_ms=p95, rps=rps)


def warmed(detector: AnomalyDetector, n: int = 20) -> AnomalyDetector:
    for i in range(n):
        assert (
            detector.observe(sample(error_rate=0.5 + (i % 3) * 0.1, p95=50 + i % 5, rps=10 + (i % 2))) == []
        )
    return detector


def test_normal_noise_is_learned_not_paged() -> None:
    detector = warmed(AnomalyDetector())
    assert detector.observe(sample(error_rate=1.0, p95=60, rps=11)) == []
    assert detector.baseline_rps() is not None and 9 < detector.baseline_rps() < 12


def test_each_signal_pages_past_both_its_z_score_and_its_floor() -> None:
    detector = warmed(AnomalyDetector(error_rate_floor=5.0))
    assert detector.observe(sample(error_rate=30.0)) == ["error_rate"]
    assert detector.observe(sample(p95=2000.0)) == ["p95_latency"]
    assert detector.observe(sample(rps=80.0)) == ["request_rate"]
    assert detector.observe(sample(p95=200.0)) == []  # far from baseline but under the latency floor
    assert detector.observe(None) == ["unreachable"]


def test_error_floor_pages_before_the_baseline_is_warm() -> None:
    detector = AnomalyDetector(error_rate_floor=5.0)
    assert detector.observe(sample(error_rate=40.0)) == ["error_rate"]
    assert detector.observe(sample(rps=500.0)) == []  # no baseline yet for traffic


async def test_monitor_opens_one_incident_per_episode(lab: Lab, workflows: WorkflowFactory) -> None:
    lab.fix_action = None
    wf = await workflows.build(AGENT_MODE="dry-run")
    monitor = MonitorLoop(wf.runtime.catalog, wf.deps, wf.correlator, interval_seconds=0.01)
    assert await monitor.poll_once() == []  # one anomalous poll is not enough
    opened = await monitor.poll_once()
    assert len(opened) == 1
    incident_id = opened[0]
    assert await monitor.poll_once() == []  # same episode
    await wf.runner.wait(incident_id)
    incident = await wf.store.get(incident_id)
    assert incident.source == "monitor" and incident.alerts[0].name == "AgentDetectedAnomaly"
    assert lab.calls == []
