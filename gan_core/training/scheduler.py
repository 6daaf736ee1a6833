"""A fair CPU scheduler for live trainings: many students' trainings share a few cores.

A class of 40 on a 2-core server cannot train 40 models at once: two trainings on two threads each slow
each other down about 10x, and every training computing at once steals time from the pictures people are
dragging. So a live training (`TrainingSession` with a `scheduler`) asks for a *turn* before each chunk
of steps:

- at most `slots` trainings compute at once (default: the cores left after one for the web server and
  rendering, divided by the torch threads of one training; at least 1);
- a fair queue: the waiting training that has used the least CPU so far goes first (a newcomer starts
  level with the least served one, as Linux's fair scheduler does), and a training that finishes a
  chunk queues again: with chunks of equal cost this is round-robin in chunks, and a chunk cut short by
  a render costs its owner only the time it took, so every running model gets its share of steps;
- rendering comes first: while a render holds `rendering()`, no turn is granted, and a training that is
  computing ends its chunk after the current step (`yield_now()`);
- `ahead(who)` says how many trainings wait before `who` (the page shows "waiting for CPU (n ahead)").

The scheduler knows nothing of the trainer; it hands out turns to any hashable key.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter, deque
from contextlib import contextmanager
from typing import Callable, Hashable


def default_slots(threads_per_training: int = 1, cores: int | None = None) -> int:
    """Trainings that may compute at once: the cores but one (kept for the server and rendering), over
    the threads one training uses; at least 1."""
    cores = cores or os.cpu_count() or 1
    return max(1, (cores - 1) // max(1, threads_per_training))


class CPUScheduler:
    """Turns on the CPU for live trainings (round-robin, bounded), with rendering first."""

    def __init__(self, slots: int | None = None, threads_per_training: int = 1):
        if slots is not None and slots < 1:
            raise ValueError(f"trainings at once must be at least 1, got {slots}")
        self.slots = slots or default_slots(threads_per_training)  # trainings computing at once
        self._cond = threading.Condition()
        self._waiting: deque = deque()  # keys waiting for a turn, in arrival order (ties: first come first)
        self._computing: dict = {}  # keys holding a turn now -> when it began
        self.used: dict = {}  # key -> CPU seconds (or work units given to `release`) used so far
        self._renders = 0  # renders in progress (turns wait for them)
        self.turns: Counter = Counter()  # turns granted per key (for tests and the teacher view)

    # ----- trainings ------------------------------------------------------------------------------------
    def acquire(self, who: Hashable, cancelled: Callable[[], bool] = lambda: False,
                on_wait: Callable[[int], None] | None = None, poll_s: float = 0.2) -> bool:
        """Wait for a turn for `who`; False when `cancelled()` became true first (then `who` leaves the
        queue). `on_wait(n)` is told how many wait ahead whenever that changes."""
        with self._cond:
            if who not in self._waiting:
                self._waiting.append(who)
            if who not in self.used:  # a newcomer starts level with the least served training
                self.used[who] = min((self.used[k] for k in self.used), default=0.0)
            told = None
            while not self._may_start(who):
                if cancelled():
                    self._waiting.remove(who)
                    self._cond.notify_all()
                    return False
                n = self._ahead_locked(who)
                if on_wait is not None and n != told:
                    on_wait(n)
                    told = n
                self._cond.wait(poll_s)
            self._waiting.remove(who)
            self._computing[who] = time.perf_counter()
            self.turns[who] += 1
            self._cond.notify_all()
            return True

    def release(self, who: Hashable, work: float | None = None) -> None:
        """End `who`'s turn, charging it `work` (default: the seconds the turn lasted)."""
        with self._cond:
            began = self._computing.pop(who, None)
            if began is not None:
                spent = time.perf_counter() - began if work is None else work
                self.used[who] = self.used.get(who, 0.0) + spent
            self._cond.notify_all()

    @contextmanager
    def turn(self, who: Hashable, cancelled: Callable[[], bool] = lambda: False,
             on_wait: Callable[[int], None] | None = None, work: float | None = None):
        """`with scheduler.turn(key) as granted:` (granted is False when cancelled while waiting); the
        turn costs `work` (default: its seconds)."""
        granted = self.acquire(who, cancelled, on_wait)
        try:
            yield granted
        finally:
            if granted:
                self.release(who, work)

    def _order(self) -> list:
        """The waiting keys, least served first (ties in arrival order)."""
        return sorted(self._waiting, key=lambda k: self.used.get(k, 0.0))

    def _may_start(self, who) -> bool:
        free = self.slots - len(self._computing)
        return self._renders == 0 and free > 0 and who in self._order()[:free]

    def _ahead_locked(self, who) -> int:
        """Trainings that start before `who`: those computing now and those queued before it, less the
        free slots."""
        try:
            pos = self._order().index(who)
        except ValueError:
            return 0
        return max(0, len(self._computing) + pos - (self.slots - 1))

    def ahead(self, who: Hashable) -> int | None:
        """How many trainings will compute before `who`; None when `who` is not waiting."""
        with self._cond:
            return self._ahead_locked(who) if who in self._waiting else None

    def forget(self, who: Hashable) -> None:
        """Drop `who` from the queue and the counts (its training closed)."""
        with self._cond:
            if who in self._waiting:
                self._waiting.remove(who)
            self._computing.pop(who, None)
            self.turns.pop(who, None)
            self.used.pop(who, None)
            self._cond.notify_all()

    # ----- rendering ------------------------------------------------------------------------------------
    @contextmanager
    def rendering(self):
        """Hold while drawing a picture someone waits for: no training starts a chunk meanwhile, and
        those computing end theirs after the current step."""
        with self._cond:
            self._renders += 1
        try:
            yield
        finally:
            with self._cond:
                self._renders -= 1
                self._cond.notify_all()

    def yield_now(self) -> bool:
        """Whether a training should end its chunk now (a render is waiting)."""
        return self._renders > 0

    def state(self) -> dict:
        """Computing and waiting counts, for a status line."""
        with self._cond:
            return {"slots": self.slots, "computing": len(self._computing), "waiting": len(self._waiting),
                    "renders": self._renders}
