"""Guided lessons: every shipped lesson file parses and names things that exist in the built app;
malformed files are refused with one line naming the file and line; the player's API steps through a
lesson and keeps each visitor's progress apart."""

from __future__ import annotations

import pytest

from gan_core.lessons import CONTROLS, TABS, LessonError, load_all, parse
from gan_core.lessons.targets import ACTIONS

LESSONS = load_all()

GOOD = """---
title: A tiny lesson
tab: train2d
question: What moved?
---

## Load it
do: open train2d; choose 2d.preset = stable-ring
Look at the ring.

## Train
do: click 2d.step
wait: step >= 1
timeout: 20
seen: There: one step.

Watch the points.
"""


def test_eight_lessons_parse_with_a_question_and_a_wait():
    assert len(LESSONS) == 8
    for les in LESSONS.values():
        assert les.title and les.question.endswith("?"), les.name
        assert les.tab in TABS
        assert any(s.wait is not None for s in les.steps), f"{les.name} waits for nothing"
        for s in les.steps:
            assert s.text, (les.name, s.title)
            if s.wait is not None:
                assert s.seen and 5 <= s.timeout <= 120


def _labels_and_ids(demo) -> tuple[set, set, set]:
    import gradio as gr

    ids, labels, tabs = set(), set(), set()
    for block in demo.blocks.values():
        if getattr(block, "elem_id", None):
            ids.add(block.elem_id)
        label = getattr(block, "label", None)
        if isinstance(label, str):
            (tabs if isinstance(block, gr.Tab) else labels).add(label)
    return ids, labels, tabs


def test_every_target_exists_in_the_app(app):
    ids, labels, tabs = _labels_and_ids(app)
    merged = "t2d-howitworks" in ids  # the Train (2D) tab's "How it works" panel
    for title in TABS.values():
        assert title in tabs, f"no tab {title!r}"
    for les in LESSONS.values():
        for name in les.controls():
            ctl = CONTROLS[name]
            if ctl.contract and not merged:
                continue
            if ctl.kind == "subtab":
                assert ctl.selector in tabs, (les.name, name)
            elif ctl.selector.startswith("label:"):
                assert ctl.selector[6:] in labels, (les.name, name, ctl.selector)
            else:
                assert ctl.selector.lstrip("#") in ids, (les.name, name, ctl.selector)


@pytest.mark.parametrize("text, line, fragment", [
    (GOOD.replace("tab: train2d", "tab: kitchen"), 3, "unknown tab 'kitchen'"),
    (GOOD.replace("title: A tiny lesson", "titel: A tiny lesson"), 2, "unknown header key 'titel'"),
    (GOOD.replace("click 2d.step", "click 2d.launch"), 12, "unknown control '2d.launch'"),
    (GOOD.replace("= stable-ring", "= no-such-preset"), 8, "unknown 2d preset 'no-such-preset'"),
    (GOOD.replace("wait: step >= 1", "wait: steps >= 1"), 13, "unknown measure 'steps'"),
    (GOOD.replace("timeout: 20", "timeout: 500"), 14, "between 5 and 120"),
    (GOOD.replace("seen: There: one step.\n", ""), 13, "needs 'seen'"),
    (GOOD.replace("question: What moved?\n", ""), 4, "no 'question'"),
    (GOOD.replace("do: click 2d.step", "do: click 2d.step\ncolour: red"), 13, "unknown step key 'colour'"),
    (GOOD.replace("click 2d.step", "set 2d.step = 3"), 12, "cannot set 2d.step"),
    (GOOD.replace("---\n\n## Load", "\n## Load"), 1, "not closed"),
])
def test_malformed_lessons_name_the_line(text, line, fragment):
    with pytest.raises(LessonError) as info:
        parse(text, "bad", "bad.md")
    msg = str(info.value)
    assert msg.startswith(f"bad.md:{line}: "), msg
    assert fragment in msg, msg
    assert "\n" not in msg


def test_a_good_lesson_parses_its_steps():
    les = parse(GOOD, "tiny")
    assert [s.title for s in les.steps] == ["Load it", "Train"]
    assert [a.verb for a in les.steps[0].actions] == ["open", "choose"]
    w = les.steps[1].wait
    assert w.parts[0].met(3) and not w.parts[0].met(0) and not w.parts[0].met(None)
    assert les.steps[1].timeout == 20


def test_every_control_kind_has_an_action_or_is_read():
    kinds = {k for ks in ACTIONS.values() for k in ks} | {"text"}
    assert {c.kind for c in CONTROLS.values()} <= kinds


def test_the_cli_lists_the_lessons(capsys):
    import json

    from gan_core.__main__ import main

    assert main(["lessons", "--list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["lessons"]
    assert [r["name"] for r in rows] == list(LESSONS)
    assert main(["lessons", "--check", "--lesson", "no-such-lesson"]) == 2


# ----- the player through its API ------------------------------------------------------------------------
@pytest.fixture()
def leave(app):
    """Closes the given clients' visitors in the store at the end (as closing their page does), so the
    next test finds the store as it was."""
    clients = []
    yield clients.append
    for c in clients:
        app.app_context.sessions.close(c.session_hash)


@pytest.mark.slow  # a dozen API round trips
def test_the_player_steps_through_a_lesson_per_visitor(leave, make_client):
    from gradio_client.exceptions import AppError

    a, b = make_client(), make_client()
    leave(a)
    leave(b)
    with pytest.raises(AppError, match="Choose a lesson"):
        a.predict(api_name="/lessons_next")
    out = a.predict("2-mode-collapse", api_name="/lessons_start")
    assert "Step 1 of 4" in out[0] and "ring of eight" in out[1].lower()
    ops = __import__("json").loads(out[3])
    assert ops["ops"][0] == {"op": "tab", "title": "Train (2D)"}
    assert any(o["op"] == "choose" and o["label"] == "Mode collapse: watch it happen" for o in ops["ops"])
    a.predict(api_name="/lessons_next")
    s = a.predict(api_name="/lessons_state")
    assert s["lesson"] == "2-mode-collapse" and s["step"] == 1 and s["waiting"]
    b.predict("7-infogan", api_name="/lessons_start")
    assert b.predict(api_name="/lessons_state")["step"] == 0
    assert a.predict(api_name="/lessons_state")["step"] == 1, "another visitor's start left this one alone"
    # the wait reads this visitor's own 2D training: no training yet, so nothing is seen
    a.predict("", api_name="/lessons_watch")
    assert a.predict(api_name="/lessons_state")["seen"] == {}
    a.predict(api_name="/lessons_back")
    assert a.predict(api_name="/lessons_state")["step"] == 0
    for _ in range(4):
        out = a.predict(api_name="/lessons_next")
    assert "Done" in out[0] and "question" in out[1].lower()
    assert a.predict(api_name="/lessons_state")["done"]
    a.predict(api_name="/lessons_restart")
    assert a.predict(api_name="/lessons_state")["step"] == 0
    with pytest.raises(AppError, match="not in the list of choices"):  # Gradio's own check of the menu
        a.predict("no-such-lesson", api_name="/lessons_start")


def test_a_wait_on_the_page_text_is_met_by_that_text(leave, make_client):
    c = make_client()
    leave(c)
    c.predict("7-infogan", api_name="/lessons_start")
    c.predict("Shipped digits-dcgan · a 10-way category", api_name="/lessons_watch")
    s = c.predict(api_name="/lessons_state")
    assert s["seen"].get("0") is not None, s


# ----- the teacher's lesson control ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def teacher_app(tmp_path_factory, shipped_dir):
    from app.common.limits import ClassLimits
    from app.server import build_app, launch_options
    from conftest import free_port

    data = tmp_path_factory.mktemp("teacher-lessons")
    demo = build_app(device="cpu", data_dir=data, checkpoints_dir=shipped_dir,
                     limits=ClassLimits(max_students=5, teacher_password="sesame"))
    demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True,
                **launch_options(data, demo))
    try:
        yield demo.local_url.rstrip("/") + "/"
    finally:
        demo.close()
        demo.app_context.shutdown()


@pytest.mark.slow  # a second server
def test_the_teacher_starts_a_lesson_for_the_class(teacher_app):
    import json
    import urllib.request

    from gradio_client import Client
    from gradio_client.exceptions import AppError

    def board():
        with urllib.request.urlopen(teacher_app + "lessons/board", timeout=10) as r:
            return json.loads(r.read())

    assert board()["v"] == 0 and board()["lesson"] is None
    student, teacher = Client(teacher_app, verbose=False), Client(teacher_app, verbose=False)
    with pytest.raises(AppError, match="needs the teacher password"):
        student.predict("2-mode-collapse", api_name="/teacher_lesson_class")
    assert board()["v"] == 0, "a student cannot start a lesson for the class"
    teacher.predict("sesame", api_name="/teacher_open")
    note = teacher.predict("2-mode-collapse", api_name="/teacher_lesson_class")
    assert "for the class" in note
    b = board()
    assert b["v"] == 1 and b["lesson"] == "2-mode-collapse" and b["fresh"]
    note, name = teacher.predict("7-infogan", api_name="/teacher_lesson_alone")
    assert name == "7-infogan" and "this page only" in note
    assert board()["v"] == 1, "presenting alone leaves the class's pages alone"
    # a student's page follows the board into its own session
    student.predict("2-mode-collapse", api_name="/lessons_follow")
    assert student.predict(api_name="/lessons_state")["lesson"] == "2-mode-collapse"
    assert teacher.predict(api_name="/lessons_state")["lesson"] is None
