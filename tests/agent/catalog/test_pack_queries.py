"""Every signal pack's PromQL, scoped to a service as the catalog scopes it, gives the right value on
realistic series (promtool's unit tests), takes in no other service's series, and reads absent where it
must; every query of every pack is checked against a value at least once."""

from __future__ import annotations

from pathlib import Path

import pytest

from .pack_cases import (
    CaseError,
    CaseFile,
    Expectation,
    InputSeries,
    PackCase,
    ServiceUnderTest,
    load_case_files,
    packs,
    promtool_or_skip,
    run_case,
    service_for,
    unit_test,
)

PACKS = packs()
CASE_FILES = load_case_files()
CASES = [(name, case) for name, case_file in CASE_FILES.items() for case in case_file.cases]


@pytest.mark.parametrize(("pack", "case"), CASES, ids=[f"{pack}: {case.name}" for pack, case in CASES])
def test_pack_case(pack: str, case: PackCase, tmp_path: Path) -> None:
    promtool = promtool_or_skip()
    failure = run_case(promtool, pack, case, PACKS, tmp_path)
    assert failure is None, failure


def test_every_pack_has_cases() -> None:
    assert sorted(CASE_FILES) == sorted(PACKS)


def test_every_query_of_every_pack_is_checked_against_a_value() -> None:
    checked = {
        (name, e.signal, e.query)
        for name, case_file in CASE_FILES.items()
        for case in case_file.cases
        for e in case.expect
        if e.value != "absent"
    }
    queries = {
        (name, signal, index)
        for name, pack in PACKS.items()
        for signal, spec in pack.signals.items()
        for index in range(len(spec.promql))
    }
    assert sorted(queries - checked) == []


CHECKOUT = ServiceUnderTest(selector='{job="checkout"}')
STEADY = PackCase(
    name="two requests a second, expected as three",
    service=CHECKOUT,
    input_series=[InputSeries(series='http_requests_total{job="checkout", code="200"}', values="0+120x20")],
    expect=[Expectation(at="10m", signal="requests_per_second", value=3)],
)


def test_a_wrong_expectation_fails_with_promtools_words(tmp_path: Path) -> None:
    promtool = promtool_or_skip()
    failure = run_case(promtool, "http", STEADY, PACKS, tmp_path)
    assert failure is not None
    assert "requests_per_second (query 0) at 10m" in failure
    assert 'sum(rate(http_requests_total{job="checkout"}[5m]))' in failure
    assert "exp: {} 3E+00" in failure and "got: {} 2E+00" in failure


def test_an_unknown_signal_or_alternative_is_a_case_error() -> None:
    service = service_for("http", CHECKOUT, PACKS)
    for expectation, words in [
        (Expectation(at="1m", signal="nope", value=1), "no signal 'nope'"),
        (Expectation(at="1m", signal="rps_over_baseline", value=1), "is derived"),
        (Expectation(at="1m", signal="requests_per_second", query=1, value=1), r"has no query 1 \(0 to 0\)"),
    ]:
        case = STEADY.model_copy(update={"expect": [expectation]})
        with pytest.raises(CaseError, match=words):
            unit_test(case, service)


def test_no_promtool_skips_with_the_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(pytest.skip.Exception, match="promtool not on PATH"):
        promtool_or_skip()


def test_a_case_file_names_its_pack(tmp_path: Path) -> None:
    text = CaseFile(pack="http", cases=[STEADY]).model_dump_json()
    (tmp_path / "standard.cases.yml").write_text(text)
    with pytest.raises(CaseError, match=r"standard\.cases\.yml: holds cases for pack 'http'"):
        load_case_files(tmp_path)
