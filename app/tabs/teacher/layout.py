"""The Teacher tab's layout: the password row, the class table, every run's G loss, and the projector
(the chosen run's picture, its counter and its losses, shown full screen)."""

from __future__ import annotations

from types import SimpleNamespace

import gradio as gr

from ...common import plots
from .view import COLUMNS

REFRESH_SECONDS = 2.0


def layout() -> SimpleNamespace:
    w = SimpleNamespace()
    gr.Markdown("The class's live trainings. Enter the teacher password (set when the server was started).")
    with gr.Row():
        w.password = gr.Textbox(label="Teacher password", type="password", scale=3,
                                elem_id="teacher-password")
        w.open = gr.Button("Open the class view", scale=1, elem_id="teacher-open")
    w.status = gr.Markdown("", elem_id="teacher-status")
    w.table = gr.Dataframe(headers=list(COLUMNS), value=[], interactive=False, label="Live trainings",
                           elem_id="teacher-table")
    w.losses = gr.LinePlot(plots.placeholders(["Student 1"]), x="step", y="value", color="series",
                           label="G loss of every run", y_title=" ", elem_id="teacher-losses")
    with gr.Row():
        w.run = gr.Dropdown([], label="Run", scale=3, elem_id="teacher-run")
        w.show = gr.Button("Show full screen", scale=1, variant="primary", elem_id="teacher-show")
    with gr.Column(elem_id="teacher-projector"):
        w.caption = gr.Markdown("", elem_id="teacher-caption")
        w.picture = gr.Image(label="The run", interactive=False, show_label=False, elem_id="teacher-picture")
        w.run_losses = gr.LinePlot(plots.empty_loss_frame(), color_map=plots.LOSS_COLORS,
                                   label=plots.LOSS_LABEL, y_title=" ", elem_id="teacher-run-losses")
    w.timer = gr.Timer(REFRESH_SECONDS, active=False)
    lesson_row(w)
    return w


def lesson_row(w) -> None:
    """The teacher's lesson control: start a lesson on every student's page, or on this page alone."""
    from gan_core.lessons import load_all

    found = load_all()
    with gr.Accordion("Lessons for the class", open=True, elem_id="teacher-lessons"):
        with gr.Row():
            w.lesson = gr.Dropdown([(x.title, x.name) for x in found.values()], value=next(iter(found), None),
                                   label="Lesson", scale=3, elem_id="teacher-lesson")
            w.lesson_class = gr.Button("Start lesson for the class", variant="primary", scale=1,
                                       elem_id="teacher-lesson-class")
            w.lesson_alone = gr.Button("Present alone", scale=1, elem_id="teacher-lesson-alone")
        w.lesson_note = gr.Markdown("", elem_id="teacher-lesson-note")
        w.lesson_go = gr.Textbox("", visible="hidden", elem_id="teacher-lesson-go")
