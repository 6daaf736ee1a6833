"""One lesson played end to end in Chromium through the lesson player, as a user: the Lessons tab, Start,
the drawer's steps with their moves on the Code knobs tab, each promised thing seen, Next to the closing
question. Uses the shipped models (its own server on the checkout's checkpoints/)."""

from __future__ import annotations

import pytest

from gan_core.lessons import load_all


@pytest.fixture(scope="module")
def shipped_app(tmp_path_factory):
    from app.server import REPO_ROOT, build_app, launch_options
    from conftest import free_port

    data = tmp_path_factory.mktemp("lessons-data")
    demo = build_app(device="cpu", data_dir=data, checkpoints_dir=REPO_ROOT / "checkpoints")
    demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True,
                **launch_options(data, demo))
    try:
        yield demo
    finally:
        demo.close()
        demo.app_context.shutdown()


@pytest.mark.browser
def test_the_infogan_lesson_plays_end_to_end(page, shipped_app):
    from gan_core.lessons.check import play

    les = load_all()["7-infogan"]
    rec = play(page, shipped_app.local_url.rstrip("/") + "/", les)
    assert rec["errors"] == [], rec
    assert rec["seen"] and rec["steps"] == 2
    assert [s["seen"] for s in rec["detail"]] == [True, True]
    assert "Category accuracy" in page.inner_text("#ck-learn-summary"), "the lesson pressed the tab's button"
    assert les.question in page.inner_text("#lesson-step")
    key_progress = shipped_app.app_context.sessions.keys("lessons")
    assert len(key_progress) == 1, "the page's progress is one visitor's slot"


@pytest.mark.browser
def test_a_page_follows_the_lesson_the_teacher_started(page, shipped_app):
    from app.tabs.lessons.player import board

    ctx = shipped_app.app_context
    board(ctx).start("5-latent-space")  # what the Teacher tab's "Start lesson for the class" does
    page.goto(shipped_app.local_url.rstrip("/") + "/")
    page.wait_for_function("() => (document.querySelector('#lesson-heading')?.innerText || '')"
                           ".includes('The latent space')", timeout=30_000)
    text = "([sel, words]) => (document.querySelector(sel)?.innerText || '').includes(words)"
    page.wait_for_function(text, arg=["#lx-info", "digits-dcgan"])  # the lesson's moves opened the model
    page.wait_for_function(text, arg=["#lesson-status", "after"])
    assert "loaded" in page.inner_text("#lesson-status")
