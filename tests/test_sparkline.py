"""The dashboard's trend line: an inline SVG polyline drawn on the server, no JavaScript."""
import re

from monitor.sparkline import describe, segments, svg
from tests.factories import TODAY, day

END = TODAY  # the window's last day: day(0) is END, day(-29) the first day of a 30-day window


def polylines(markup: str) -> list[str]:
    return re.findall(r'<polyline points="([^"]*)"', str(markup))


def test_points_put_the_first_day_left_and_a_high_total_at_the_top():
    totals = {day(-29): 21, day(-28): 14, day(0): 0}
    assert segments(totals, END) == [[(0, 0), (1, 7)], [(29, 21)]]


def test_consecutive_days_make_one_line():
    totals = {day(-2): 10, day(-1): 12, day(0): 6}
    assert polylines(svg(totals, END)) == ["27,11 28,9 29,15"]


def test_a_day_without_a_check_in_breaks_the_line():
    totals = {day(-5): 10, day(-4): 11, day(-2): 8, day(-1): 7, day(0): 6}
    assert segments(totals, END) == [[(24, 11), (25, 10)], [(27, 13), (28, 14), (29, 15)]]
    assert polylines(svg(totals, END)) == ["24,11 25,10", "27,13 28,14 29,15"]


def test_a_lone_check_in_is_drawn_as_a_dot():
    # A zero-length line with round caps: a polyline of one point would draw nothing.
    markup = svg({day(-3): 9, day(0): 4}, END)
    assert polylines(markup) == ["26,12 26,12", "29,17 29,17"]
    assert 'stroke-linecap="round"' in markup


def test_days_outside_the_window_are_left_out():
    totals = {day(-30): 20, day(1): 20, day(-10): 5}
    assert segments(totals, END) == [[(19, 16)]]


def test_empty_data_draws_no_line_and_says_so():
    markup = svg({}, END)
    assert polylines(markup) == []
    assert 'aria-label="Trend of the last 30 days: no check-ins"' in markup
    assert "<title>Trend of the last 30 days: no check-ins</title>" in markup
    assert segments({}, END) == []


def test_label_gives_the_first_and_last_totals():
    totals = {day(-20): 14, day(-10): 18, day(0): 6}
    assert describe(totals, END) == "Trend of the last 30 days: from 14 to 6 (3 check-ins)"
    markup = svg(totals, END)
    assert 'role="img"' in markup
    assert 'aria-label="Trend of the last 30 days: from 14 to 6 (3 check-ins)"' in markup
    assert describe({day(-3): 9}, END) == "Trend of the last 30 days: one check-in, 9"


def test_view_box_spans_30_days_and_the_0_to_21_scale():
    markup = svg({day(0): 3}, END)
    assert markup.startswith("<svg ")
    assert 'viewBox="0 0 29 21"' in markup
    assert 'preserveAspectRatio="none"' in markup
    assert "<script" not in markup


def test_sessions_in_the_window_are_marked():
    markup = svg({day(0): 3}, END, treatments=[day(-7), day(-7), day(-40), day(2)])
    assert re.findall(r'<line class="sparkline-session" x1="(\d+)"', markup) == ["22"]


def test_shorter_windows():
    assert segments({day(0): 21, day(-6): 0}, END, days=7) == [[(0, 21)], [(6, 0)]]
    assert 'viewBox="0 0 6 21"' in svg({}, END, days=7)
