from mwaa_local.environment.timeline import Timeline
from mwaa_local.runtime.stack import ServiceState


def state(service: str, ready: bool) -> ServiceState:
    health = "healthy" if ready else "starting"
    return ServiceState(service, f"x-{service}", "running", health, 0, 0)


def test_phases_in_order_then_components_from_compose_up():
    timeline = Timeline(started=0.0)
    timeline.marks = [("settings read", 0.1), ("image checked (or built)", 1.1)]
    timeline.marks.append(("compose up", 3.0))
    timeline.ready = {"worker": 9.0, "postgres": 4.5}
    phases = {"worker": {"requirements": {"duration": 2.25}, "plugins": {"ok": True}}}
    rows = timeline.rows(phases)
    assert [r[0] for r in rows[:3]] == ["settings read", "image checked (or built)", "compose up"]
    assert rows[1][2] == 1.0 and rows[2][2] == 1.9  # each phase's own duration
    assert rows[3] == ("postgres ready", 4.5, 1.5)  # ready 1.5 s after compose up began
    assert rows[4] == ("worker ready (requirements 2.2 s)", 9.0, 6.0)


def test_a_component_is_noted_the_first_time_it_is_ready():
    timeline = Timeline()
    timeline.watch({"redis": state("redis", False)})
    assert timeline.ready == {}
    timeline.watch({"redis": state("redis", True)})
    first = timeline.ready["redis"]
    timeline.watch({"redis": state("redis", True)})
    assert timeline.ready["redis"] == first
