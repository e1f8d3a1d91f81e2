"""The CSV export's formula neutralisation (audit/exports.py), without a database."""

import csv
import io

import pytest

from audit.exports import FORMULA_STARTS, csv_lines, neutralise


@pytest.mark.parametrize("first", ["=", "+", "-", "@", "\t", "\r"])
def test_a_text_cell_starting_with_a_formula_character_gets_a_leading_quote(first):
    assert neutralise(f"{first}HYPERLINK(1)") == f"'{first}HYPERLINK(1)"


def test_the_dangerous_first_characters_are_exactly_those_of_the_design():
    assert set(FORMULA_STARTS) == {"=", "+", "-", "@", "\t", "\r"}


@pytest.mark.parametrize("cell", ["ITEM-1", "a=b", " =1", "'=already quoted", "", "naïve"])
def test_other_text_is_left_as_it_is(cell):
    assert neutralise(cell) == cell


@pytest.mark.parametrize("number", [-0.5, -3, 0, 0.125, 17])
def test_numbers_stay_numbers_even_negative_ones(number):
    assert neutralise(number) is number


def test_text_that_looks_like_a_negative_number_is_quoted():
    assert neutralise("-12") == "'-12"


def test_csv_lines_quote_dangerous_cells_and_keep_numbers():
    rows = [["item_ref", "score"], ["=1+2", -0.25], ["@SUM(A1)", 0.5], ["plain", 1]]
    text = "".join(csv_lines(rows))
    assert list(csv.reader(io.StringIO(text))) == [
        ["item_ref", "score"], ["'=1+2", "-0.25"], ["'@SUM(A1)", "0.5"], ["plain", "1"],
    ]  # fmt: skip


def test_csv_lines_keep_a_neutralised_tab_or_carriage_return_inside_one_cell():
    text = "".join(csv_lines([["\tcmd", "\rcmd"]]))
    assert list(csv.reader(io.StringIO(text, newline=""))) == [["'\tcmd", "'\rcmd"]]
