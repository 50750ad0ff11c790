"""LiveView folds the engine's real events and the source's blocks into what every display shows."""

from __future__ import annotations

import json

import numpy as np
from displaykit import new_view, recorded_run

from imu_tempo.types import (
    FailureEvent,
    RepEvent,
    SampleBlock,
    SetEndEvent,
    StatusEvent,
    WarningEvent,
)


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def block(n: int, *, fs_hz: float = 100.0, dropped: int = 0) -> SampleBlock:
    return SampleBlock(t_s=np.arange(n) / fs_hz, accel=np.zeros((n, 3)), gyro=None, fs_hz=fs_hz, dropped=dropped)


class TestLiveView:
    def test_a_whole_set_with_warning_failure_and_summary(self) -> None:
        events, _ = recorded_run()
        view = new_view()
        seen = []
        for ev in events:
            view.apply(ev)
            seen.append(view.snapshot())
            json.dumps(seen[-1])  # JSON-ready at every step
        reps = [e for e in events if isinstance(e, RepEvent)]
        warn = next(e for e in events if isinstance(e, WarningEvent))
        fail = next(e for e in events if isinstance(e, FailureEvent))
        # Rep counts follow the rep events, one by one.
        counts = [s["set"]["rep_count"] for s, e in zip(seen, events, strict=True) if isinstance(e, RepEvent)]
        assert counts == list(range(1, len(reps) + 1))
        # The warning colours the rep it names; before the failure the set is in the warning state.
        at_warn = seen[events.index(warn)]
        assert at_warn["set"]["state"] == "warning"
        assert at_warn["set"]["reps"][warn.rep.index - 1]["state"] == "warning"
        # From the failure on, the set stays failed, whatever the later reps are.
        i = events.index(fail)
        assert all(s["set"]["state"] == "failure" for s in seen[i:])
        assert seen[i]["set"]["failure"] == {"rep": fail.first_failure_rep, "reason": fail.reason}
        assert all(s["summary"] is None for s in seen[:-1])
        final = seen[-1]
        end = events[-1]
        assert isinstance(end, SetEndEvent)
        assert final["summary"]["rep_count"] == end.summary.rep_count == len(reps)
        assert final["summary"]["first_failure_rep"] == fail.first_failure_rep
        assert "reps" not in final["summary"]
        assert final["last_rep"]["index"] == reps[-1].rep.index
        assert final["last_rep"]["value_s"] == round(reps[-1].rep.duration_s, 4)
        assert final["limits"]["threshold_s"] == 1.2
        ref = reps[-1].rep.reference_s
        assert ref is not None and final["limits"]["trend_limit_s"] == round(ref * 1.25, 4)
        assert final["seq"] == len(events)

    def test_a_new_set_starts_a_fresh_bar_chart(self) -> None:
        events, _ = recorded_run("sim_push_press")
        view = new_view()
        first_of_set2 = next(i for i, e in enumerate(events) if isinstance(e, RepEvent) and e.rep.set_index == 2)
        for ev in events[:first_of_set2]:
            view.apply(ev)
        before = view.snapshot()
        assert before["summary"] is not None and before["summary"]["index"] == 1
        view.apply(events[first_of_set2])
        after = view.snapshot()
        assert after["set"]["index"] == 2 and after["set"]["rep_count"] == 1
        assert after["summary"] is None and after["set"]["failure"] is None
        assert after["sets_done"] == 1

    def test_concentric_measure_is_what_is_shown(self) -> None:
        from imu_tempo.display.state import LiveView
        from imu_tempo.settings import Settings

        events, _ = recorded_run()
        view = LiveView.from_settings(Settings(measure="concentric"))
        rep = next(e for e in events if isinstance(e, RepEvent)).rep
        view.apply(RepEvent(rep))
        assert rep.concentric_s is not None
        assert view.snapshot()["last_rep"]["value_s"] == round(rep.concentric_s, 4)


class TestLink:
    def test_status_events_drive_the_link_state(self) -> None:
        view = new_view()
        assert view.link()["state"] == "waiting"
        for state, shown in [("demo", "waiting"), ("streaming", "streaming"), ("lost", "lost"),
                             ("reconnecting", "reconnecting"), ("resumed", "streaming"), ("stream_errors", "streaming"),
                             ("ended", "ended")]:
            view.apply(StatusEvent(state=state, message=f"m-{state}", details={"fs_hz": 200.0}))
            assert view.link()["state"] == shown, state
        assert view.link()["fs_hz"] == 200.0

    def test_rate_drops_and_stalls_from_blocks(self) -> None:
        clock = Clock()
        view = new_view(clock=clock, stale_s=1.5)
        for _ in range(11):  # 10 blocks of 4 samples every 40 ms after the first: 100 Hz
            view.on_block(block(4, dropped=0))
            clock.t += 0.04
        view.on_block(block(4, dropped=3))
        link = view.link()
        assert link["state"] == "streaming"
        assert link["rate_hz"] is not None and abs(link["rate_hz"] - 100.0) < 1.0
        assert link["dropped"] == 3 and link["samples"] == 48 and link["fs_hz"] == 100.0
        clock.t += 2.0
        link = view.link()
        assert link["state"] == "stalled" and link["rate_hz"] is None and "no data for 2.0 s" in link["message"]
        view.on_block(block(4))
        assert view.link()["state"] == "streaming"
