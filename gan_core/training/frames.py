"""What a live training session shows its viewers: frame boundaries, the snapshot of each, and wake-ups.

`TrainingSession` inherits this. The training thread marks a frame boundary after each chunk (or after N
rounds at a paced speed) with `_publish`; when a viewer waits (`_frame_wanted`) the chunk ends after its
current round and the boundary carries the training's own snapshot, so the viewer never waits for the
training's lock. A viewer either blocks in `frame` (a worker thread) or, from an event loop, registers a
one-shot `watch` callback and asks `poll_frame`, which never waits.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .session import Snapshot


class LiveFrames:
    """The frame side of a TrainingSession; the session sets up the fields it uses (`_published`,
    `_frame_no`, `_frame_snap`, `_frame_seen`, `_frame_wanted`, `_frame_taken`, `_watchers`, `_lock`)."""

    def _publish(self, snap: Snapshot | None = None) -> None:
        """A frame boundary; `snap`: the frame itself (paced speeds, or a viewer waited for it), else a
        viewer takes one."""
        with self._published:
            self._frame_no += 1
            self._frame_snap = snap
            self._published.notify_all()
            watchers, self._watchers = self._watchers, []
        for fn in watchers:
            fn()

    def watch(self, fn) -> None:
        """Call `fn()` (from the training's thread: it must only hand over, e.g. through
        `loop.call_soon_threadsafe`) at the next frame boundary, once."""
        with self._published:
            if fn not in self._watchers:
                self._watchers.append(fn)

    def unwatch(self, fn) -> None:
        with self._published:
            if fn in self._watchers:
                self._watchers.remove(fn)


    def poll_frame(self, after: int = -1, block: bool = False) -> tuple[int, Snapshot] | None:
        """The newest frame boundary after `after` (a frame number handed out before; -1: now) as (its
        number, a snapshot of it), without waiting for one; None when there is none yet, and the running
        chunk is asked to end after its current round. A boundary reached at full speed without a viewer
        holds no snapshot: one is taken under the training's lock, which `block` waits for; otherwise
        (the lock held by a running chunk) None, and the next boundary brings its own snapshot."""
        with self._published:
            if after > self._frame_no:  # a number this session never gave: answer now
                after = -1
            no, snap = self._frame_no, self._frame_snap
        if no <= after:
            self._frame_wanted.set()
            return None
        if snap is None:
            self._frame_wanted.set()
            if not self._lock.acquire(blocking=block):
                return None
            try:
                snap = self._take_snapshot()
            finally:
                self._lock.release()
                self._frame_wanted.clear()
        self._frame_taken.set()
        return no, snap

    @staticmethod
    def frame_key(snap: Snapshot) -> tuple:
        """What makes two frames' pictures differ."""
        return snap.version, snap.state, snap.extra.get("run"), snap.step

    def frame(self, after: int = -1, timeout: float = 0.5) -> tuple[int, Snapshot] | None:
        """The next frame for a live viewer: waits up to `timeout` s for a frame boundary newer than
        `after` (a frame number this returned before; -1: now), then its number and a snapshot of it.
        At full speed the running chunk ends after its current round, so the frame is at most one round
        old, and a frame that would show what the last one showed is skipped; at a paced speed the frame
        is the snapshot taken at the boundary, exactly N rounds after the previous one. None when nothing
        new came within the timeout (the viewer asks again: frames never queue)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._published:
                if after > self._frame_no:
                    after = -1
                if self._frame_no <= after:
                    self._frame_wanted.set()
                    self._published.wait_for(lambda: self._frame_no > after,
                                             timeout=max(0.0, deadline - time.monotonic()))
            got = self.poll_frame(after, block=True)
            if got is None:
                self._frame_wanted.clear()
                return None
            no, snap = got
            seen = self.frame_key(snap)
            if after < 0 or seen != self._frame_seen or time.monotonic() >= deadline:
                self._frame_seen = seen
                return no, snap
            after = no  # the same picture as the last frame: wait for the next boundary
