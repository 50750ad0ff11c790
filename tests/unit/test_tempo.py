"""Tempo rules: absolute and trend limits, warnings, confirmation, the reference."""

import pytest

from imu_tempo.tempo import SetTempo, first_failure, judge, reference

LIM = dict(threshold_s=1.2, slowdown=0.25, warning_margin=0.05)


class TestReference:
    def test_needs_two_previous_reps(self):
        assert reference([]) is None and reference([0.8]) is None

    def test_second_fastest_ignores_one_fast_outlier(self):
        assert reference([0.9, 0.4, 1.0, 0.95]) == 0.9


class TestJudge:
    def test_absolute(self):
        assert judge(1.25, [], **LIM).failure == "absolute"

    def test_absolute_wins_over_trend(self):
        assert judge(1.3, [0.8, 0.8], **LIM).failure == "absolute"

    def test_trend(self):
        j = judge(1.05, [0.8, 0.82, 0.81], **LIM)
        assert j.failure == "trend" and j.reference_s == 0.81
        assert j.slowdown == pytest.approx(1.05 / 0.81 - 1)

    def test_no_trend_before_two_reps(self):
        assert judge(1.1, [0.5], **LIM).failure is None

    def test_warning_within_five_percent_of_either_limit(self):
        assert judge(1.15, [], **LIM).warning_limit == "absolute"
        j = judge(0.98, [0.8, 0.8], **LIM)  # trend limit 1.0
        assert j.failure is None and j.warning_limit == "trend"
        assert not judge(0.9, [0.8, 0.8], **LIM).warning

    def test_unmeasured_rep_never_fails(self):
        j = judge(None, [0.8, 0.8], **LIM)
        assert j.failure is None and not j.warning


class TestConfirm:
    def test_confirm_two_needs_two_in_a_row_and_reports_the_first(self):
        st = SetTempo(**LIM, confirm=2)
        seq = [0.8, 0.8, 0.8, 1.3, 0.8, 1.3, 1.4]
        fired = [st.add(i, m)[1] for i, m in enumerate(seq, 1)]
        assert fired == [False] * 6 + [True]
        assert st.first_failure == (6, "absolute")

    def test_first_failure_list_helper(self):
        assert first_failure([0.8, 0.82, 0.81, 0.9, 1.05]) == (5, "trend")
        assert first_failure([0.8, 0.82, 0.81]) is None
