"""Integer inputs: every use of the value is a guard, but the reads a program makes itself."""

from __future__ import annotations

import numbers

import pytest

from tinygrad_edu import Value
from tinygrad_edu.fused import PICK, pick
from tinygrad_edu.grad_mode import tracing
from tinygrad_edu.integer_inputs import IntegerInput, recording, row


def test_an_integer_input_counts_as_an_integral_but_is_not_an_int():
    with recording() as found:
        token = IntegerInput(3, "tokens_0", found)
    assert isinstance(token, numbers.Integral) and not isinstance(token, int)
    assert found.guards == []  # making it decides nothing


@pytest.mark.parametrize(
    ("use", "guard"),
    [
        (lambda t: t < 5, "tokens_0 < 5"),
        (lambda t: t >= 4, "not tokens_0 >= 4"),
        (lambda t: t == 3, "tokens_0 == 3"),
        (lambda t: ["a", "b", "c", "d"][t], "tokens_0 == 3"),  # a list reads it by __index__
        (lambda t: {3: "x"}[t], "tokens_0 == 3"),  # a dict by its hash
        (lambda t: t + 1, "tokens_0 == 3"),
        (lambda t: range(t), "tokens_0 == 3"),
        (lambda t: f"{t}", "tokens_0 == 3"),
        (lambda t: bool(t), "tokens_0 != 0"),
    ],
)
def test_every_use_of_the_value_records_the_condition_that_held(use, guard):
    with recording() as found:
        token = IntegerInput(3, "tokens_0", found)
        use(token)
    assert guard in found.guards


def test_a_row_read_while_tracing_is_stand_ins_the_program_reads_by_the_input():
    table = [[Value(1.0, "wte.weight.0.0"), Value(2.0, "wte.weight.0.1")],
             [Value(3.0, "wte.weight.1.0"), Value(4.0, "wte.weight.1.1")]]  # fmt: skip
    with recording() as found:
        token = IntegerInput(1, "tokens_2", found)
        with tracing():
            stand_ins = row(table, token)
    assert [x.data for x in stand_ins] == [3.0, 4.0] and stand_ins[0] is not table[1][0]
    assert [x.label for x in stand_ins] == ["wte.weight[tokens_2][0]", "wte.weight[tokens_2][1]"]
    assert [found.rows[x][1:] for x in stand_ins] == [(token, 0), (token, 1)]
    assert found.guards == []  # the program reads the row: no decision was made
    assert row(table, token) is table[1]  # not tracing: the row itself, chosen by its value
    assert found.guards == ["tokens_2 == 1"]


def test_pick_by_an_input_is_a_node_and_by_an_int_the_item_itself():
    values = [Value(1.0), Value(5.0), Value(2.0)]
    assert pick(values, 1) is values[1]
    with recording() as found, tracing():
        picked = pick(values, IntegerInput(1, "tokens_4", found))
    assert picked._op is PICK and picked.data == 5.0 and picked.parents == tuple(values)
    picked.backward()
    assert [v.grad for v in values] == [0.0, 1.0, 0.0]
    assert found.guards == ["tokens_4 >= 0", "tokens_4 < 3"]  # pick's range check
