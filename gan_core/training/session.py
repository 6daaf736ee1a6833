"""A live training session: one trainer in a background thread behind a lock.

The UI (or a benchmark) never touches the trainer directly: it calls play/pause/step/reset/set_hparams
and reads immutable `Snapshot`s. Training runs in chunks of a few steps; between chunks the lock is free,
so snapshots and setting changes are served within milliseconds. A divergence (NaN/inf) pauses the
session, restores the last good weights and leaves a message that says which knob to turn. Any other
exception in a training step moves the session to state 'error' with a one-line message ("error: ...", no
paths, no stack); the thread lives on, paused, and `reset()` starts again from fresh weights.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import threading
import time
from dataclasses import dataclass, field

import torch

from . import presets
from .config import TrainConfig
from .frames import LiveFrames
from .trainer import Trainer, TrainingDiverged

log = logging.getLogger(__name__)
# speed setting -> training rounds per shown frame (None: full speed, the frames show what they catch)
SPEEDS = {"full": None, "100": 100, "10": 10, "1": 1}
SPEED_LABELS = {"full": "full speed", "100": "100 rounds / frame", "10": "10 rounds / frame",
                "1": "1 round / frame"}
FRAME_HZ = 30.0  # paced speeds: at most this many frames (of N rounds each) per second
FRAME_WAIT_S = 0.25  # paced speeds: the next N rounds start at the latest this long after the last frame


@dataclass(frozen=True)
class Snapshot:
    """What the UI shows at one moment; safe to read from any thread."""

    step: int
    state: str  # idle | running | paused | diverged | error
    message: str
    cfg: TrainConfig
    metrics: dict
    rows: list  # history rows (dicts with 'step' and scalars)
    g_state: torch.Tensor  # flat generator weights (EMA weights when EMA is on)
    d_state: torch.Tensor  # flat discriminator weights
    data: object  # the dataset (immutable)
    steps_per_s: float
    version: int = 0  # increases with every change of weights
    extra: dict = field(default_factory=dict)


class TrainingSession(LiveFrames):
    """Owns one trainer and its thread. All public methods are thread-safe."""

    def __init__(self, cfg: TrainConfig, data=None, device: str = "cpu", chunk: int = 20,
                 evaluate: bool = True):
        self._lock = threading.RLock()
        self._run = threading.Event()
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None
        self.chunk = chunk
        self.per_frame: int | None = None  # rounds per shown frame (None: full speed)
        self._frame_wanted = threading.Event()  # a viewer waits for a frame: end the chunk early
        self._frame_taken = threading.Event()  # paced speeds: the frame of the last N rounds was taken
        self._published = threading.Condition(threading.Lock())  # notified at each frame boundary
        self._frame_no = 0  # frame boundaries so far (a paced run publishes one per N rounds)
        self._frame_snap: Snapshot | None = None  # the last boundary's snapshot, taken at it (paced speeds)
        self._frame_seen: tuple | None = None  # (version, state, run, step) of the last frame handed out
        self._watchers: list = []  # one-shot callbacks for the next frame boundary (live streams)
        self._run_id = 0  # increases with every new run (reset, load): a viewer's curves start again
        self.device = device
        self._data = data
        self._last_snapshot: Snapshot | None = None
        self.scheduler = None  # a CPUScheduler (training.scheduler) that hands out turns; None: train freely
        self.waiting: int | None = None  # trainings ahead of this one while it waits for a turn
        self.stop_at: int | None = None  # pause when the trainer reaches this step (a demo's length), once
        self.stop_promise = None  # the demo's Promise, judged and named in the message at `stop_at`
        self._build(cfg, evaluate)  # image models: an evaluation takes seconds, so callers may defer it

    # ----- control --------------------------------------------------------------------------------------
    def _build(self, cfg: TrainConfig, evaluate: bool = True) -> None:
        with self._lock:
            self.trainer = Trainer(cfg, data=self._data, device=self.device)
            if evaluate:
                self.trainer.evaluate()
            self.state, self.message = "idle", "Ready. Press Train to start."
            self._version = 0
            self._rate = (time.perf_counter(), 0, 0.0)
            self._run_id += 1
        self._publish()

    def play(self) -> None:
        with self._lock:
            if self.state == "diverged":
                self.message = "Resumed after a divergence with the restored weights."
            elif self.state == "error":
                self.message = "Resumed after an error; Reset starts again from fresh weights."
            self.state = "running"
            self._run.set()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="gan-training", daemon=True)
                self._thread.start()

    def pause(self) -> None:
        with self._lock:
            self._run.clear()
            if self.state == "running":
                self.state, self.message = "paused", f"Paused at step {self.trainer.step_count}."
        self._publish()

    def step(self, mode: str = "both", n: int = 1, scheduled_eval: bool = False) -> dict:
        """Single steps for step mode: pauses first; 'd' = D only, 'g' = G only, 'both' = a full round.

        Metrics are evaluated after the steps, or with `scheduled_eval` only when a step lands on the
        `eval_every` schedule as in the training loop (an image evaluation takes seconds)."""
        what = {"both": "D and G", "d": "D only", "g": "G only"}[mode]

        def play() -> dict:
            out, due = {}, False
            for _ in range(n):
                out = self.trainer.step(mode)
                due = due or self.trainer.step_count % self.trainer.cfg.eval_every == 0
            if due or not scheduled_eval:
                self.trainer.evaluate()
            return out

        out = self.play_paused(play, f"Stepped {what} to step {{step}}.")
        return {} if out is None else out

    def play_paused(self, play, message: str):
        """Pause, run `play()` under the lock and publish; its value, or None when it diverged or failed
        (the state and message then say so). `message` names the new step as {step}. Single steps and
        slow motion (gan_core.training.slowmo.slow_round) play through here."""
        self.pause()
        with self._lock:
            try:
                value = play()
            except TrainingDiverged as e:
                self.state, self.message = "diverged", str(e)
                return None
            except Exception as e:
                self._failed(e)
                return None
            self._version += 1
            self.state, self.message = "paused", message.format(step=self.trainer.step_count)
        self._publish()
        return value

    def reset(self, cfg: TrainConfig | None = None, data=None) -> None:
        """Fresh weights (and optionally a new config/dataset); the session stays paused."""
        self._run.clear()
        with self._lock:
            if data is not None:
                self._data = data
            self.stop_at = self.stop_promise = None
            self._build(cfg or self.trainer.cfg)
            self._version = 0

    def replace_trainer(self, trainer: Trainer, message: str = "Loaded.") -> None:
        """Swap in another trainer (e.g. one restored from a checkpoint); the session is paused."""
        self._run.clear()
        with self._lock:
            self.trainer = trainer
            self._data = trainer.data
            self.stop_at = self.stop_promise = None
            self.state, self.message = "paused", message
            self._version += 1
            self._run_id += 1
        self._publish()

    def set_hparams(self, **changes) -> None:
        with self._lock:
            self.trainer.set_hparams(**changes)

    def set_speed(self, name: str) -> None:
        """'full' trains flat out; '100', '10', '1' train that many rounds per shown frame (at most
        FRAME_HZ frames a second), so each frame shows exactly that many more rounds."""
        if name not in SPEEDS:
            raise ValueError(f"speed must be one of {', '.join(SPEEDS)}")
        self.per_frame = SPEEDS[name]
        self._frame_taken.set()

    def save_checkpoint(self, path: str, card: dict | None = None, timeline: list | None = None) -> str:
        """Write a checkpoint of the current weights under the lock (training never tears it); returns
        the model card's path (see gan_core.checkpoint.save; `timeline`: the run's grids, if drawn)."""
        from .. import checkpoint

        with self._lock:
            return checkpoint.save(path, self.trainer, card, timeline=timeline)

    def close(self) -> None:
        self._closed.set()
        self._run.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self.scheduler is not None:
            self.scheduler.forget(self)

    # ----- the loop -------------------------------------------------------------------------------------
    def _loop(self) -> None:
        last_frame = 0.0
        while not self._closed.is_set():
            if not self._run.wait(timeout=0.2):
                continue
            if self._closed.is_set():
                break
            if self.scheduler is None:
                last_frame = self._work(last_frame)
                continue
            stop = lambda: not self._run.is_set() or self._closed.is_set()  # noqa: E731
            with self.scheduler.turn(self, stop, self._set_waiting) as granted:
                self.waiting = None
                if granted:
                    paced = self._work(last_frame, pace=False)
            if granted and self.per_frame is not None:  # wait for the viewer outside the turn
                last_frame = self._pace(paced)

    def _set_waiting(self, n: int) -> None:
        self.waiting = n

    def _work(self, last_frame: float, pace: bool = True) -> float:
        """One piece of training: at full speed a chunk (ended early when a viewer or, through the
        scheduler, a render waits), then a frame boundary; at a paced speed N rounds, a frame boundary
        with its snapshot and (with `pace`) the wait for the viewer. Returns the time of the last frame."""
        n = self.per_frame
        if n is not None:  # paced: N rounds, then a frame boundary, then wait for the viewer
            self._frame_taken.clear()
            if not self._rounds(n):
                return last_frame
            with self._lock:  # the frame is this moment exactly, however late the viewer comes
                snap = self._take_snapshot()
            self._publish(snap)
            return self._pace(last_frame) if pace else last_frame
        if self._rounds(self.chunk, early=True):
            snap = None
            if self._frame_wanted.is_set():  # a viewer waits: hand it this moment, so it need not take the lock
                with self._lock:
                    snap = self._take_snapshot()
                self._frame_wanted.clear()
            self._publish(snap)
            time.sleep(0)  # let the UI thread take the GIL between chunks
        return last_frame

    def _rounds(self, n: int, early: bool = False) -> bool:
        """`n` rounds in chunks of at most `self.chunk` under the lock (the lock is free in between);
        with `early`, a waiting viewer ends the chunk after the current round. False when stopped."""
        done, sched = 0, self.scheduler
        while done < n:
            with self._lock:
                if not self._run.is_set() or self._closed.is_set():
                    return False
                try:
                    for _ in range(min(self.chunk, n - done)):
                        if self.stop_at is not None and self.trainer.step_count >= self.stop_at:
                            self._stop_at_length()
                            return False
                        self.trainer.advance()
                        done += 1
                        if early and self._frame_wanted.is_set():
                            done = n
                            break
                        if sched is not None and sched.yield_now():  # a render waits for the CPU
                            break
                    self._version += 1
                except TrainingDiverged as e:
                    self._run.clear()
                    self.state, self.message = "diverged", str(e)
                    return False
                except Exception as e:  # the thread must not die silently: say so, pause, keep living
                    self._failed(e)
                    return False
        return True

    def _pace(self, last_frame: float) -> float:
        """Paced speeds: wait until the frame of these rounds was taken (at most FRAME_WAIT_S) and at
        least 1 / FRAME_HZ since the last frame; returns the time of this frame."""
        self._frame_taken.wait(timeout=FRAME_WAIT_S)
        now = time.perf_counter()
        gap = 1.0 / FRAME_HZ - (now - last_frame)
        if gap > 0:
            time.sleep(gap)
            now += gap
        return now

    def pause_at(self, step: int | None, promise=None) -> None:
        """Pause once when training reaches `step` (None: never), saying whether `promise` (a preset's
        Promise) held over the run; pressing Train afterwards goes on past it."""
        with self._lock:
            self.stop_at, self.stop_promise = step, promise

    def _stop_at_length(self) -> None:
        """The demo's length is reached: pause with a message; the caller holds the lock."""
        step, promise = self.trainer.step_count, self.stop_promise
        self.stop_at = self.stop_promise = None
        self._run.clear()
        self.state = "paused"
        said = ""
        if promise is not None:
            said = presets.promise_said(promise, promise.check(self.trainer.history.rows))
        self.message = (f"Paused at step {step:,}, the end of this demo.{said} Press Train to go on past it "
                        f"(given long enough, the generator may find its way out).")

    def _failed(self, e: Exception) -> None:
        """Pause in state 'error' with a one-line message; the caller holds the lock."""
        log.error("training step failed", exc_info=e)  # the stack goes to the server log, not to the page
        self._run.clear()
        self.state = "error"
        self.message = (f"error: {error_line(e)}. Training is paused at step {self.trainer.step_count}; "
                        f"Reset starts again from fresh weights.")

    # ----- reading --------------------------------------------------------------------------------------
    def snapshot(self, wait: float | None = None) -> Snapshot:
        """The session now. `wait` bounds the seconds to wait for the lock: while training holds it longer
        (an image evaluation takes seconds) the previous snapshot is returned with the current state and
        message, so a poll never hangs and always sees play/pause."""
        if not self._lock.acquire(timeout=-1 if wait is None else wait):
            if self._last_snapshot is not None:
                return dataclasses.replace(self._last_snapshot, state=self.state, message=self._message())
            self._lock.acquire()
        try:
            self._last_snapshot = self._take_snapshot()
            return self._last_snapshot
        finally:
            self._lock.release()

    def _message(self) -> str:
        """The message, or "Waiting for CPU (n ahead)" while a running session waits for its turn."""
        n = self.waiting
        if self.state == "running" and n is not None:
            return f"Waiting for CPU ({n} ahead): the server trains a few models at a time, in turns."
        return self.message

    def _take_snapshot(self) -> Snapshot:
        """Build a snapshot; the caller holds the lock."""
        t = self.trainer
        g = (t.ema if t.ema is not None else t.g_flat.data).clone()
        now, last_step = time.perf_counter(), t.step_count
        t_prev, s_prev, rate = self._rate
        if now - t_prev >= 0.5:
            rate = (last_step - s_prev) / (now - t_prev) if self.state == "running" else 0.0
            self._rate = (now, last_step, rate)
        return Snapshot(step=t.step_count, state=self.state, message=self._message(), cfg=t.cfg,
                        metrics=dict(t.metrics), rows=list(t.history.rows), g_state=g,
                        d_state=t.d_flat.data.clone(), data=t.data, steps_per_s=rate,
                        version=self._version,
                        extra={"engine": t.engine, "min_modes": t.min_modes, "min_classes": t.min_classes,
                               "has_evaluator": t.metric_fn is not None, "run": self._run_id,
                               "waiting": self.waiting})


_PATH = re.compile(r"""(?<![\w.])(?:[A-Za-z]:)?(?:[\\/][^\s'"\\/:]*)+[\\/]""")  # a folder part of a path: /a/b/ or C:\a\


def error_line(e: BaseException, limit: int = 200) -> str:
    """One line that says what happened: the exception's first line with folder parts of paths removed
    (file names stay), or its type when it has no message; at most `limit` characters."""
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    text = _PATH.sub("", text).strip()
    return text if len(text) <= limit else text[:limit - 3] + "..."

