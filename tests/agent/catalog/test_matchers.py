"""Alertmanager matchers as the catalog reads `owns` and `selector`: quoted and bare values, escapes,
anchored regexes, braced sets, an absent label matching as "", PromQL rendering, and bad input refused
with a MatcherError that quotes it."""

from __future__ import annotations

import pytest

from agent.domain.matchers import (
    Matcher,
    MatcherError,
    MatchOp,
    all_match,
    parse_matcher,
    parse_matchers,
    promql_selector,
)


@pytest.mark.parametrize(
    ("text", "name", "op", "value"),
    [
        ('service="checkout"', "service", "=", "checkout"),
        ("severity!=info", "severity", "!=", "info"),
        ('  namespace =~ "pay.*"  ', "namespace", "=~", "pay.*"),
        ("env!~staging|dev", "env", "!~", "staging|dev"),
        ('summary="a, b and {c}"', "summary", "=", "a, b and {c}"),
        ('instance=""', "instance", "=", ""),
        ("instance=", "instance", "=", ""),
    ],
)
def test_one_matcher_quoted_or_bare(text: str, name: str, op: MatchOp, value: str) -> None:
    assert parse_matcher(text) == Matcher(name=name, op=op, value=value)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        (r'msg="say \"hi\""', 'say "hi"'),
        (r'path="C:\\temp"', "C:\\temp"),
        (r'ends="a\\", other="b"', "a\\"),
        (r'tab="a\tb"', "a\tb"),
    ],
)
def test_escapes_in_quoted_values(text: str, value: str) -> None:
    assert parse_matchers(text)[0].value == value


def test_a_braced_set_splits_on_commas_outside_quotes() -> None:
    matchers = parse_matchers('{namespace="shop", alertname=~"KubePod.*", note="a,b"}')
    assert [(m.name, m.op, m.value) for m in matchers] == [
        ("namespace", "=", "shop"),
        ("alertname", "=~", "KubePod.*"),
        ("note", "=", "a,b"),
    ]
    assert parse_matchers("a=b, c!=d") == parse_matchers("{a=b,c!=d}")


def test_a_set_matches_only_when_all_hold() -> None:
    matchers = parse_matchers('{namespace="shop", alertname=~"KubePod.*"}')
    assert all_match(matchers, {"namespace": "shop", "alertname": "KubePodCrashLooping"})
    assert not all_match(matchers, {"namespace": "shop", "alertname": "TargetDown"})
    assert not all_match(matchers, {"alertname": "KubePodCrashLooping"})


@pytest.mark.parametrize(
    ("text", "value", "matches"),
    [
        ('service=~"check"', "checkout", False),
        ('service=~"check.*"', "checkout", True),
        ('service=~"out"', "checkout", False),
        ('service=~"cart|checkout"', "checkout", True),
        ('service=~"cart|checkout"', "checkout-worker", False),
        ('env!~"prod"', "production", True),
        ('env!~"prod.*"', "production", False),
    ],
)
def test_regexes_are_anchored_as_in_alertmanager(text: str, value: str, matches: bool) -> None:
    assert parse_matcher(text).matches({"service": value, "env": value}) is matches


@pytest.mark.parametrize(
    ("text", "matches"),
    [
        ('team=""', True),
        ('team!=""', False),
        ('team=~".*"', True),
        ('team=~".+"', False),
        ('team!~".+"', True),
        ('team!="payments"', True),
        ('team="payments"', False),
    ],
)
def test_an_absent_label_matches_as_the_empty_string(text: str, matches: bool) -> None:
    assert parse_matcher(text).matches({"service": "checkout"}) is matches


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("service", "not an Alertmanager matcher: 'service'"),
        ('service=="checkout"', "not an Alertmanager matcher"),
        ('1service="checkout"', "not an Alertmanager matcher"),
        ('service="checkout', "not an Alertmanager matcher"),
        ("service=check out", "not an Alertmanager matcher"),
        ("{}", "no matcher in '{}'"),
        ("  ", "no matcher in"),
        ('{a="b" c="d"}', "not an Alertmanager matcher"),
        ('service=~"("', "bad regex in 'service=~\"(\"'"),
        (r'service="\q"', "bad quoting in 'service=\"\\\\q\"'"),
    ],
)
def test_bad_input_is_a_matcher_error_quoting_it(text: str, words: str) -> None:
    with pytest.raises(MatcherError) as raised:
        parse_matchers(text)
    assert words in str(raised.value)


def test_a_matcher_error_is_a_value_error() -> None:
    assert issubclass(MatcherError, ValueError)


def test_rendered_as_promql_label_matchers() -> None:
    matchers = parse_matchers(r'{service="checkout", env=~"prod|staging", msg="say \"hi\""}')
    assert [m.promql() for m in matchers] == [
        'service="checkout"',
        'env=~"prod|staging"',
        r'msg="say \"hi\""',
    ]
    assert str(matchers[0]) == 'service="checkout"'
    selector = promql_selector(matchers, 'alertstate="firing"')
    assert selector == r'{alertstate="firing",service="checkout",env=~"prod|staging",msg="say \"hi\""}'
    assert parse_matchers(selector)[1:] == matchers
    assert promql_selector(parse_matchers("severity!=info")) == '{severity!="info"}'
