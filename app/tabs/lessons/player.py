"""The lesson player's server side: each visitor's progress (a slot in the session store), the moves a
step makes on the page (turned from the lesson's actions into plain operations the page script runs, the
way a user would: open a tab, choose in a menu, set a slider, press a button), and the wait for a step's
phenomenon, read from the visitor's own state (their 2D and image trainings' snapshots) or from the text
the page shows. Pure Python; the gradio handlers are in .events."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from gan_core.lessons import CHECKPOINTS, CONTROLS, MEASURES, TABS, Lesson
from gan_core.training import presets

from ...common.checkpoints import read_card
from ...common.lesson_board import Board, board  # noqa: F401 (the lessons tab serves the board)

SLOT = "lessons"  # the visitor's progress in the session store
SNAPSHOT_WAIT_S = 0.1


@dataclass
class Progress:
    """Where one visitor is in which lesson."""

    key: str
    lesson: str | None = None  # the lesson's name
    index: int = 0  # the current step
    staged_at: float = 0.0  # when the current step set its stage (time.monotonic())
    seen: dict = field(default_factory=dict)  # step index -> seconds to the phenomenon; None: timed out
    started_at: float = 0.0  # when the lesson started
    done: bool = False  # the closing question is shown


def slot_kind(cap: int):
    from ...common.sessions import SlotKind

    return SlotKind(SLOT, lambda key: Progress(key), cap, noun="lesson players")


def option_label(ctl_name: str, value: str, checkpoints: Path | None = None) -> tuple[str, bool]:
    """What the page's menu shows for `value` and whether it is matched as a prefix (shipped checkpoints
    are listed as 'stem (dataset, step N)' on Train (2D), by their preset's title on Train (images))."""
    ctl = CONTROLS[ctl_name]
    if ctl.values.startswith("preset-"):
        return presets.get(value).title, False
    if ctl.values == "shipped-image":
        card = read_card(Path(checkpoints or CHECKPOINTS) / f"{value}.safetensors")
        p = presets.PRESETS.get(card.get("preset", value))
        return (p.title if p is not None else value) + " (", True
    if ctl.values.startswith("shipped-"):
        return value + " (", True
    if ctl.values == "model":
        return f"Shipped: {value} (", True
    return value, False


def operations(lesson: Lesson, index: int, checkpoints: Path | None = None) -> list[dict]:
    """The page moves of step `index`: {op: tab|click|choose|set|expand, sel, ...}."""
    ops = []
    for a in lesson.steps[index].actions:
        if a.verb == "open":
            ops.append({"op": "tab", "title": TABS[a.target]})
            continue
        ctl = CONTROLS[a.target]
        if ctl.kind == "subtab":
            ops.append({"op": "tab", "title": ctl.selector})
            continue
        op = {"op": a.verb if a.verb != "choose" else "choose", "sel": ctl.selector, "kind": ctl.kind,
              "tab": TABS[ctl.tab], "name": a.target}
        if a.verb == "choose":
            op["label"], op["prefix"] = option_label(a.target, a.value, checkpoints)
        elif a.verb == "set":
            op["value"] = a.value
        ops.append(op)
    return ops


def probe_selector(lesson: Lesson, index: int) -> str:
    """The selector of the text the current step's wait reads on the page ('' when none)."""
    wait = lesson.steps[index].wait
    part = wait.text_part if wait is not None else None
    return CONTROLS[part.name].selector if part is not None else ""


def measure(sessions, key: str, name: str):
    """The live value of a measure for the visitor `key` (None while there is none): read from their own
    training's snapshot, never touching the trainer."""
    slot = sessions.peek(key, MEASURES[name][0])
    if slot is None:
        return None
    snap = slot.training.snapshot(wait=SNAPSHOT_WAIT_S)
    if name in ("step", "img-step"):
        return snap.step
    if snap.step == 0:  # the evaluation of a fresh start says nothing yet
        return None
    return snap.metrics.get({"modes": "modes", "classes": "classes_covered"}[name])


