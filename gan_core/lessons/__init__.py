"""Guided lessons: short markdown files a teacher can write without code (gan_core/lessons/files/*.md).

A lesson file starts with a header between two `---` lines, then one `## ` section per step:

    ---
    title: Mode collapse and two remedies
    summary: One line shown in the list of lessons.
    tab: train2d
    question: Why can't D alone stop G from hopping between modes?
    ---

    ## Watch it collapse
    do: open train2d; choose 2d.preset = collapse-ring; click 2d.train
    wait: modes <= 2
    timeout: 60
    seen: There: that is mode collapse.

    What to do and what to look for, in markdown (the rest of the section).

Header keys: `title`, `tab` (the lesson's home tab) and `question` (asked when the lesson ends) are
required, `summary` is optional. Step keys (the `key: value` lines right under the step's heading):
`do` (actions separated by `;`: `open TAB`, `click CONTROL`, `choose CONTROL = VALUE`, `set CONTROL =
VALUE`, `expand CONTROL`), `wait` (conditions joined by `and`: `MEASURE OP NUMBER` with OP one of
<= >= < > ==, or `text CONTROL contains "words"`), `timeout` (seconds to wait, 5-120, default 60),
`seen` (what the player says when the wait is met; required with `wait`) and `screenshot: yes` (the
lesson's key moment). Tabs, controls and measures are those of .targets. Everything is checked when the
file is read: a malformed file raises LessonError, one line naming the file and line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from gan_core.training import presets

from .targets import ACTIONS, CONTROLS, MEASURES, TABS, Control

FILES = Path(__file__).resolve().parent / "files"  # the shipped lessons
CHECKPOINTS = Path(__file__).resolve().parents[2] / "checkpoints"  # the shipped models (in a checkout)
HEADER_KEYS = ("title", "summary", "tab", "question")
STEP_KEYS = ("do", "wait", "timeout", "seen", "screenshot")
DEFAULT_TIMEOUT = 60.0
TIMEOUT_RANGE = (5.0, 120.0)
MAX_STEPS = 12
_KEY = re.compile(r"^([A-Za-z][\w-]*):\s*(.*)$")
_MEASURE = re.compile(r"^([a-z][\w-]*)\s*(<=|>=|==|<|>)\s*(-?\d+(?:\.\d+)?)$")
_TEXT = re.compile(r'^text\s+(\S+)\s+contains\s+"([^"]+)"$')
_ACTION = re.compile(r"^(\w+)\s+(\S+)(?:\s*=\s*(.+))?$")


class LessonError(ValueError):
    """A malformed lesson file: the message is one line, `file:line: what is wrong`."""


@dataclass(frozen=True)
class Action:
    verb: str  # open, click, choose, set, expand
    target: str  # a tab id (open) or a control name
    value: str | None = None  # what is chosen or set


@dataclass(frozen=True)
class Condition:
    kind: str  # "measure" (a live value on the server) or "text" (words in a control's text on the page)
    name: str  # the measure, or the control whose text is read
    op: str = ""  # <=, >=, ==, <, >
    number: float = 0.0
    words: str = ""  # for "text": what the text must contain

    def met(self, value) -> bool:
        """Whether the live `value` (a number, or the control's text) meets the condition."""
        if self.kind == "text":
            return isinstance(value, str) and self.words.lower() in value.lower()
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return False
        return {"<=": value <= self.number, ">=": value >= self.number, "==": value == self.number,
                "<": value < self.number, ">": value > self.number}[self.op]

    def describe(self) -> str:
        if self.kind == "text":
            return f'"{self.words}" on the page'
        return f"{MEASURES[self.name][1]} {self.op} {self.number:g}"


@dataclass(frozen=True)
class Wait:
    """Conditions joined by 'and': the wait is met when all hold at once."""

    parts: tuple[Condition, ...]

    @property
    def text_part(self) -> Condition | None:
        """The condition read from the page's text (at most one per wait)."""
        return next((c for c in self.parts if c.kind == "text"), None)

    def describe(self) -> str:
        return " and ".join(c.describe() for c in self.parts)


@dataclass(frozen=True)
class Step:
    title: str
    text: str  # markdown: what to do and what to look for
    actions: tuple[Action, ...] = ()
    wait: Wait | None = None
    timeout: float = DEFAULT_TIMEOUT
    seen: str = ""  # said when the wait is met
    line: int = 0  # where the step starts in its file
    screenshot: bool = False  # the lesson's key moment (the play-through's screenshot is taken here)


@dataclass(frozen=True)
class Lesson:
    name: str  # the file's stem
    title: str
    tab: str
    question: str
    steps: tuple[Step, ...]
    summary: str = ""
    path: str = ""

    def controls(self) -> set[str]:
        """Every control the lesson names (in actions and waits)."""
        out = {a.target for s in self.steps for a in s.actions if a.verb != "open"}
        waits = [c for s in self.steps if s.wait is not None for c in s.wait.parts]
        return out | {c.name for c in waits if c.kind == "text"}


@dataclass
class _Where:
    file: str
    line: int = 0

    def error(self, msg: str, line: int | None = None) -> LessonError:
        return LessonError(f"{self.file}:{line if line is not None else self.line}: {msg}")


def shipped_stems(folder: Path | None = None, kind: str | None = None) -> set[str]:
    """File stems of the readable shipped generator checkpoints in `folder` (default: the checkout's
    checkpoints/), of one output kind ('points' or 'image') when given; evaluators (`eval-*`) left out."""
    from gan_core import checkpoint, models

    found = set()
    for path, meta in checkpoint.readable(Path(folder or CHECKPOINTS)):
        stem = Path(path).stem
        if stem.startswith("eval-"):
            continue
        try:
            if kind is None or models.output_kind(meta["family"]) == kind:
                found.add(stem)
        except (ValueError, KeyError):  # a family this build does not know
            continue
    return found


def _check_value(ctl_name: str, ctl: Control, value: str, where: _Where, checkpoints: Path | None) -> None:
    if ctl.values.startswith("preset-"):
        kind = "2d" if ctl.values == "preset-2d" else "image"
        p = presets.PRESETS.get(value)
        if p is None or p.kind != kind:
            ok = ", ".join(n for n, q in presets.PRESETS.items() if q.kind == kind)
            raise where.error(f"{ctl_name}: unknown {kind} preset {value!r} (known: {ok})")
    elif ctl.values in ("shipped-2d", "shipped-image", "model"):
        kind = {"shipped-2d": "points", "shipped-image": "image", "model": "image"}[ctl.values]
        if not Path(checkpoints or CHECKPOINTS).is_dir():  # an installed copy without the checkpoints folder
            return
        stems = shipped_stems(checkpoints, kind)
        if value not in stems:
            raise where.error(f"{ctl_name}: no shipped checkpoint {value!r} "
                              f"(shipped: {', '.join(sorted(stems))})")
    elif ctl.choices and value not in ctl.choices:
        raise where.error(f"{ctl_name}: {value!r} is not one of {', '.join(map(str, ctl.choices))}")
    if ctl.kind in ("slider", "number"):
        try:
            x = float(value)
        except ValueError:
            raise where.error(f"{ctl_name} must be set to a number, got {value!r}") from None
        if (ctl.lo is not None and x < ctl.lo) or (ctl.hi is not None and x > ctl.hi):
            raise where.error(f"{ctl_name} must be between {ctl.lo:g} and {ctl.hi:g}, got {value}")


def parse_action(text: str, where: _Where, checkpoints: Path | None = None) -> Action:
    m = _ACTION.match(text.strip())
    if not m:
        raise where.error(f"cannot read the action {text.strip()!r} (write e.g. 'click 2d.train' or "
                          "'choose 2d.preset = collapse-ring')")
    verb, target, value = m.group(1), m.group(2), (m.group(3) or "").strip() or None
    if verb == "open":
        if target not in TABS:
            raise where.error(f"unknown tab {target!r} (tabs: {', '.join(TABS)})")
        if value is not None:
            raise where.error(f"'open {target}' takes no value")
        return Action(verb, target)
    if verb not in ACTIONS:
        raise where.error(f"unknown action {verb!r} (actions: open, {', '.join(ACTIONS)})")
    ctl = CONTROLS.get(target)
    if ctl is None:
        raise where.error(f"unknown control {target!r}")
    if ctl.kind not in ACTIONS[verb]:
        raise where.error(f"cannot {verb} {target}: it is a {ctl.kind}")
    needs_value = verb in ("choose", "set")
    if needs_value and value is None:
        raise where.error(f"'{verb} {target}' needs a value: '{verb} {target} = VALUE'")
    if not needs_value and value is not None:
        raise where.error(f"'{verb} {target}' takes no value")
    if value is not None:
        value = value.strip('"')
        _check_value(target, ctl, value, where, checkpoints)
    return Action(verb, target, value)


def parse_condition(text: str, where: _Where) -> Condition:
    text = text.strip()
    m = _TEXT.match(text)
    if m:
        if m.group(1) not in CONTROLS:
            raise where.error(f"unknown control {m.group(1)!r} in the wait")
        return Condition("text", m.group(1), words=m.group(2))
    m = _MEASURE.match(text)
    if not m:
        raise where.error(f"cannot read the wait {text!r} (write e.g. 'modes <= 2' or "
                          "'text 2d.substep contains \"round played\"')")
    if m.group(1) not in MEASURES:
        raise where.error(f"unknown measure {m.group(1)!r} (measures: {', '.join(MEASURES)})")
    return Condition("measure", m.group(1), m.group(2), float(m.group(3)))


def parse_wait(text: str, where: _Where) -> Wait:
    """Conditions joined by ' and ' (at most one reads the page's text)."""
    parts = tuple(parse_condition(t, where) for t in re.split(r"\s+and\s+", text.strip()))
    if sum(c.kind == "text" for c in parts) > 1:
        raise where.error("a wait reads at most one text on the page")
    return Wait(parts)


def _fields(lines: list[tuple[int, str]], keys: tuple[str, ...], where: _Where, what: str):
    """The `key: value` lines at the top of a block; the rest of the block (its text)."""
    found: dict[str, tuple[int, str]] = {}
    i = 0
    while i < len(lines) and lines[i][1].strip():
        n, line = lines[i]
        m = _KEY.match(line.strip())
        if not m:
            break
        key = m.group(1).lower()
        if key not in keys:
            raise where.error(f"unknown {what} key {key!r} (keys: {', '.join(keys)})", n)
        if key in found:
            raise where.error(f"{what} key {key!r} given twice", n)
        if not m.group(2).strip():
            raise where.error(f"{what} key {key!r} has no value", n)
        found[key] = (n, m.group(2).strip())
        i += 1
    return found, lines[i:]


def parse(text: str, name: str = "lesson", file: str | None = None,
          checkpoints: Path | None = None) -> Lesson:
    """A Lesson from the text of a lesson file; LessonError (one line naming the file and line) when the
    file is malformed or names something that does not exist."""
    where = _Where(file or f"{name}.md", 1)
    lines = list(enumerate(text.splitlines(), start=1))
    if not lines or lines[0][1].strip() != "---":
        raise where.error("a lesson starts with a header between two '---' lines", 1)
    end = next((i for i, (_, s) in enumerate(lines[1:], start=1) if s.strip() == "---"), None)
    if end is None:
        raise where.error("the header is not closed by a '---' line", 1)
    head, body = lines[1:end], lines[end + 1:]
    for n, s in head:
        if s.strip() and not _KEY.match(s.strip()):
            raise where.error(f"cannot read the header line {s.strip()!r} (write 'key: value')", n)
    fields, _ = _fields([x for x in head if x[1].strip()], HEADER_KEYS, where, "header")
    for key in ("title", "tab", "question"):
        if key not in fields:
            raise where.error(f"the header has no {key!r}", lines[end][0])
    if fields["tab"][1] not in TABS:
        raise where.error(f"unknown tab {fields['tab'][1]!r} (tabs: {', '.join(TABS)})", fields["tab"][0])
    steps = _steps(body, where, checkpoints)
    return Lesson(name, fields["title"][1], fields["tab"][1], fields["question"][1], tuple(steps),
                  fields.get("summary", (0, ""))[1], str(file or ""))


def _steps(body: list[tuple[int, str]], where: _Where, checkpoints: Path | None) -> list[Step]:
    sections: list[tuple[int, str, list]] = []
    for n, s in body:
        if s.startswith("## "):
            sections.append((n, s[3:].strip(), []))
        elif sections:
            sections[-1][2].append((n, s))
        elif s.strip():
            raise where.error("text before the first step: a step starts with '## ' and its title", n)
    if not sections:
        raise where.error("the lesson has no steps (a step starts with '## ' and its title)",
                          body[0][0] if body else 1)
    if len(sections) > MAX_STEPS:
        raise where.error(f"{len(sections)} steps; a lesson has at most {MAX_STEPS}", sections[MAX_STEPS][0])
    return [_step(n, title, lines, where, checkpoints) for n, title, lines in sections]


def _step(n: int, title: str, lines: list, where: _Where, checkpoints: Path | None) -> Step:
    """One step: its title (line `n`), its fields and its text."""
    if not title:
        raise where.error("a step needs a title after '## '", n)
    while lines and not lines[0][1].strip():
        lines = lines[1:]
    fields, rest = _fields(lines, STEP_KEYS, where, "step")
    text = "\n".join(s for _, s in rest).strip()
    if not text:
        raise where.error(f"step {title!r} says nothing: add what to do and what to look for", n)
    actions = []
    if "do" in fields:
        where.line = fields["do"][0]
        actions = [parse_action(a, where, checkpoints) for a in fields["do"][1].split(";") if a.strip()]
    wait = None
    if "wait" in fields:
        where.line = fields["wait"][0]
        wait = parse_wait(fields["wait"][1], where)
        if "seen" not in fields:
            raise where.error("a step with 'wait' needs 'seen': what to say when it happens")
    elif "seen" in fields or "timeout" in fields:
        key = "seen" if "seen" in fields else "timeout"
        raise where.error(f"'{key}' belongs to a 'wait', and this step has none", fields[key][0])
    shot = False
    if "screenshot" in fields:
        if fields["screenshot"][1].lower() != "yes":
            raise where.error("screenshot: write 'screenshot: yes' (or leave it out)",
                              fields["screenshot"][0])
        shot = True
    seen = fields.get("seen", (0, ""))[1]
    return Step(title, text, tuple(actions), wait, _timeout(fields, where), seen, n, shot)


def _timeout(fields: dict, where: _Where) -> float:
    """A wait's timeout in seconds (DEFAULT_TIMEOUT when not given), within TIMEOUT_RANGE."""
    if "timeout" not in fields:
        return DEFAULT_TIMEOUT
    where.line = fields["timeout"][0]
    try:
        timeout = float(fields["timeout"][1].rstrip("s "))
    except ValueError:
        raise where.error(f"timeout must be a number of seconds, got {fields['timeout'][1]!r}") from None
    if not TIMEOUT_RANGE[0] <= timeout <= TIMEOUT_RANGE[1]:
        raise where.error(f"timeout must be between {TIMEOUT_RANGE[0]:g} and {TIMEOUT_RANGE[1]:g} "
                          f"seconds, got {timeout:g}")
    return timeout


def load(path: str | Path, checkpoints: Path | None = None) -> Lesson:
    """Read and check one lesson file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise LessonError(f"{path.name}:1: cannot read the file ({type(e).__name__})") from None
    return parse(text, path.stem, path.name, checkpoints)


def load_all(folder: str | Path | None = None, checkpoints: Path | None = None) -> dict[str, Lesson]:
    """Every lesson in `folder` (default: the shipped ones), by name, in file-name order."""
    return {p.stem: load(p, checkpoints) for p in sorted(Path(folder or FILES).glob("*.md"))}


__all__ = ["Action", "Condition", "Wait", "Lesson", "LessonError", "Step", "load", "load_all", "parse",
           "TABS", "CONTROLS", "MEASURES"]
