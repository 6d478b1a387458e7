"""Each correction of jsonata-python, and each Step Functions function, against the reference."""

from __future__ import annotations

import re

import jsonata
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from jsonata_reference import disagreement, engine_outcome


def assert_agree(reference, expression, bindings=None, batch=None):
    """The engine and the reference agree on ``expression`` for each set of bindings."""
    batch = batch if batch is not None else [bindings or {}]
    replies = reference.evaluate_many((expression, b) for b in batch)
    for binding, expected in zip(batch, replies, strict=True):
        engine = engine_outcome(expression, binding)
        assert engine.agrees_with(expected), disagreement(expression, binding, engine, expected)


# -- values in: nulls, big integers, key order ---------------------------------------------------


@pytest.mark.parametrize(
    "expression,value",
    [
        ("$count($v)", [None]),  # jsonata-python dropped a null inside an array
        ("$v", [None, [None], {"a": None}]),
        ("$type($v)", None),
        ("$v[1]", [1, None, 3]),
        ("$v = 9007199254740992", 2**53 + 1),  # JSON.parse rounds beyond 2^53
        ("$keys($v)", {"b": 1, "10": 2, "2": 3, "a": 4}),  # index-like keys first
        ("$string($v)", {"b": 1, "1": [None]}),
    ],
)
def test_bound_values_read_as_javascript_reads_them(jsonata_reference, expression, value):
    assert_agree(jsonata_reference, expression, {"v": value})


# -- $string: JSON.stringify's text ---------------------------------------------------------------

NUMBERS = (
    st.floats(allow_nan=False, allow_infinity=False)
    | st.integers(-(2**70), 2**70)
    | st.integers(10**14, 10**17).map(lambda n: n * 10 + 5)  # ties at the 15th digit
)


@example(numbers=[2**53, 1e21, 1e-7, 1.5e-7, 1e-6, -0.0, 1.0, 0.1 + 0.2, 1000000000000005])
@given(numbers=st.lists(NUMBERS, min_size=50, max_size=50))
def test_numbers_are_written_as_javascript_writes_them(jsonata_reference, numbers):
    assert_agree(jsonata_reference, "$string($n)", batch=[{"n": n} for n in numbers])


@example(texts=["é", "e\u0301", "\u2028\u2029", "\U0001f600", "\x00\x1f\x7f", '"\\/', "\ud800"])
@given(texts=st.lists(st.text(), min_size=50, max_size=50))
def test_strings_are_escaped_as_javascript_escapes_them(jsonata_reference, texts):
    assert_agree(jsonata_reference, "$string([$s])", batch=[{"s": s} for s in texts])


@pytest.mark.parametrize(
    "expression",
    [
        "$string({'a': [1, {}, []], 'b': {'c': null}}, true)",
        "$string(function($x) { $x })",
        "$string({'f': function($x) { $x }, 'u': $missing})",
        "$string([1, $missing, 2])",
        "$string(1/0)",
    ],
)
def test_string_of_structures_functions_and_nothing(jsonata_reference, expression):
    assert_agree(jsonata_reference, expression)


# -- $sort: UTF-16 order ---------------------------------------------------------------------------


@example(texts=["\ufffd", "\U0001f600", "\ue000", "\U00010000"])
@given(texts=st.lists(st.text(max_size=3), max_size=8))
def test_strings_sort_by_utf16_code_units(jsonata_reference, texts):
    assert_agree(jsonata_reference, "$sort($v)", {"v": texts})


@pytest.mark.parametrize(
    "expression",
    [
        "$sort([{'p': 2, 'n': 1}, {'p': 1, 'n': 2}, {'p': 2, 'n': 3}], function($a, $b) {"
        " $a.p > $b.p }).n",
        "$sort([3, 1, 2], function($a, $b) { $a < $b })",
        "$sort([3, 1, 2])",
        "$sort(['b', 1])",
    ],
)
def test_sort_with_a_comparator_keeps_ties_in_order(jsonata_reference, expression):
    assert_agree(jsonata_reference, expression)


# -- what Step Functions adds and removes ----------------------------------------------------------


@pytest.mark.parametrize(
    "expression",
    [
        "$partition([1, 2, 3, 4, 5], 2)",
        "$partition([], 3)",
        "$partition([1], 0)",
        "$range(0, 10, 2)",
        "$range(5, 1, -2)",
        "$range(1, 2, 0)",
        "$range(0, 1000, 1)",
        "$range(0, 999, 1)",
        "$hash('é\U0001f600', 'SHA-256')",
        "$hash('abc', 'MD5') & $hash('abc', 'SHA-1') & $hash('abc', 'SHA-384')",
        "$hash('abc', 'SHA-512')",
        "$hash('\ud800 \ud83d\ude00', 'SHA-256')",  # a lone surrogate and a pair
        "$hash('abc', 'SHA-3')",
        "$hash($pad('', 10000, 'x'), 'SHA-256')",
        "$hash($pad('', 10001, 'x'), 'SHA-256')",
        "$hash($pad('', 5001, '\U0001f600'), 'SHA-256')",
        '$parse(\'{"a": [null, 1.5, "é"]}\')',
        "$count($parse('[null]'))",
        "$parse('{')",
        "$eval('1 + 1')",
        "1 ?? 2",
        "$missing ?: 2",
        "true ? 1 : 2",
        "'??' & '?:'",
        "λ($a, $s)<a<s>s?:s>{ $join($a, $s) }(['x', 'y'], '-')",  # ?: inside a signature
    ],
)
def test_step_functions_functions_and_syntax(jsonata_reference, expression):
    assert_agree(jsonata_reference, expression)


UUID_V4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def test_uuid_and_random_have_the_documented_shape(jsonata_reference):
    expression = "[$uuid(), $random(), $random(42), $random(42) = $random(42)]"
    for outcome in (engine_outcome(expression, {}), jsonata_reference.evaluate(expression, {})):
        uuid, unseeded, seeded, repeatable = outcome.value
        assert UUID_V4.fullmatch(uuid)
        assert 0 <= unseeded < 1 and 0 <= seeded < 1
        assert repeatable is True


def test_the_engine_leaves_jsonata_python_as_it_was_for_other_users():
    assert engine_outcome("1 ?? 2", {}).kind == "error"
    assert jsonata.Jsonata("1 ?? 2").evaluate(None) == 1  # 2.1.0 syntax, accepted by the port
