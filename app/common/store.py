"""The session store itself (see app.common.sessions for what it holds and its rules)."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable

import gradio as gr

from .sessions import SlotKind, Visitor, _Entry, class_full_message, key_of

log = logging.getLogger(__name__)


class SessionStore:
    """Thread-safe map visitor key -> {slot name -> slot}, with a cap per kind and idle cleanup."""

    def __init__(self, kinds: list[SlotKind], idle_pause_s: float = 120.0, idle_close_s: float = 3600.0,
                 sweep_every_s: float = 30.0, max_visitors: int | None = None,
                 on_gone: Callable[[str], None] | None = None):
        self.kinds = {k.name: k for k in kinds}  # the slot kinds, by name
        self.idle_pause_s = idle_pause_s  # a slot nobody touched for this long gets its idle hook
        self.idle_close_s = idle_close_s  # a slot untouched for this long is closed
        self.max_visitors = max_visitors  # visitors holding any slot at once (the class size); None: no cap
        self.on_gone = on_gone  # called with a visitor's key when their last slot closes (their files go)
        self._visitors: dict[str, dict[str, _Entry]] = {}
        self._tokens: dict[tuple[str, str], str] = {}  # (kind, token) -> visitor key
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._janitor = threading.Thread(target=self._sweep_loop, args=(sweep_every_s,),
                                         name="session-janitor", daemon=True)
        self._janitor.start()

    # ----- reading -----------------------------------------------------------------------------------
    def __len__(self) -> int:
        with self._lock:
            return len(self._visitors)

    def count(self, kind: str) -> int:
        with self._lock:
            return self._count_locked(kind)

    def _count_locked(self, kind: str) -> int:
        return sum(kind in slots for slots in self._visitors.values())

    def keys(self, kind: str | None = None) -> set[str]:
        """Keys of the visitors holding a slot of `kind` (any slot when None)."""
        with self._lock:
            return {k for k, slots in self._visitors.items() if kind is None or kind in slots}

    def visitor(self, request) -> Visitor:
        return Visitor(self, key_of(request))

    def peek(self, key: str | None, kind: str) -> Any | None:
        """The slot if it exists (never creates one, does not count as activity)."""
        with self._lock:
            entry = self._visitors.get(key, {}).get(kind) if key else None
            return entry.value if entry else None

    def find(self, kind: str, token: str) -> Any | None:
        """The slot of `kind` whose token is `token` (counts as activity); None when there is none."""
        with self._lock:
            key = self._tokens.get((kind, token))
            entry = self._visitors.get(key, {}).get(kind) if key else None
            if entry is None:
                return None
            entry.last_seen = time.monotonic()
            return entry.value

    # ----- creating ------------------------------------------------------------------------------------
    def slot(self, request, kind: str) -> Any:
        """The visitor's slot of `kind`, created on first use; gr.Error naming the limit when the class
        (or the kind) is full. Nobody is ever evicted to make room, except slots idle past
        `idle_close_s` (the idle release)."""
        key, spec = key_of(request), self.kinds[kind]
        freed: list[_Entry] = []
        try:
            with self._lock:
                entry = self._visitors.get(key, {}).get(kind)
                if entry is None:
                    if self._count_locked(kind) >= spec.cap or self._class_full_locked(key):
                        freed = self._make_room_locked(spec, time.monotonic())
                    if self._class_full_locked(key):
                        raise gr.Error(class_full_message(self.max_visitors, self.idle_close_s))
                    entry = self._create_locked(key, spec)
                entry.last_seen = time.monotonic()
                return entry.value
        finally:
            with self._lock:
                gone = {e.key for e in freed if e is not None and e.key not in self._visitors}
            self._close_entries(freed)
            self._gone(gone)

    def _class_full_locked(self, key: str) -> bool:
        """Whether `key` is a new visitor and the class is already full."""
        return (self.max_visitors is not None and key not in self._visitors
                and len(self._visitors) >= self.max_visitors)

    def _make_room_locked(self, spec: SlotKind, now: float) -> list[_Entry]:
        """Drop long-idle slots, then (for evict_lru kinds) the least recently used slot of the kind."""
        freed = self._collect_locked(now)[0]
        if spec.evict_lru and self._count_locked(spec.name) >= spec.cap:
            held = {k: slots[spec.name] for k, slots in self._visitors.items() if spec.name in slots}
            oldest = min(held, key=lambda k: held[k].last_seen)
            freed.append(self._pop_locked(oldest, spec.name))
        return freed

    def _create_locked(self, key: str, spec: SlotKind) -> _Entry:
        if self._count_locked(spec.name) >= spec.cap:
            raise gr.Error(f"The server is busy: {spec.cap} {spec.noun} are open (the limit set when the "
                           "server started). Close another tab or try again in a few minutes.")
        entry = _Entry(spec.name, spec.make(key), key=key)
        self._visitors.setdefault(key, {})[spec.name] = entry
        if spec.token is not None:
            self._tokens[(spec.name, spec.token(entry.value))] = key
        log.info("%s slot of %s opened (%d live)", spec.name, key[:8], self._count_locked(spec.name))
        return entry

    # ----- closing -------------------------------------------------------------------------------------
    def _pop_locked(self, key: str, kind: str) -> _Entry | None:
        slots = self._visitors.get(key, {})
        entry = slots.pop(kind, None)
        if not slots:
            self._visitors.pop(key, None)
        spec = self.kinds[kind]
        if entry is not None and spec.token is not None:
            self._tokens.pop((kind, spec.token(entry.value)), None)
        return entry

    def _close_entries(self, entries) -> None:
        """Close slots already removed from the map (outside the lock)."""
        for entry in entries:
            if entry is None:
                continue
            spec = self.kinds[entry.kind]
            if spec.close is not None:
                try:
                    spec.close(entry.value)
                except Exception:  # one broken slot must not keep the others open
                    log.exception("closing a %s slot failed", entry.kind)

    def close(self, key: str, kind: str | None = None) -> bool:
        """Close the visitor's slot of `kind` (every slot when None); whether anything was open."""
        with self._lock:
            kinds = [kind] if kind else list(self._visitors.get(key, {}))
            entries = [self._pop_locked(key, k) for k in kinds]
            gone = key not in self._visitors
        self._close_entries(entries)
        if any(entries):
            log.info("visitor %s: closed %s", key[:8], ", ".join(e.kind for e in entries if e))
        if gone:
            self._gone([key])
        return any(entries)

    def _gone(self, keys) -> None:
        """Tell `on_gone` about visitors who hold no slot any more (outside the lock)."""
        for key in keys:
            if self.on_gone is not None:
                try:
                    self.on_gone(key)
                except Exception:  # a folder that cannot be removed must not stop the janitor
                    log.exception("cleaning up after visitor %s failed", key[:8])

    def close_request(self, request: gr.Request) -> None:
        """For `demo.unload`: the tab was closed or reloaded."""
        key = getattr(request, "session_hash", None)
        if key:
            self.close(key)

    # ----- the janitor ---------------------------------------------------------------------------------
    def _collect_locked(self, now: float) -> tuple[list[_Entry], list[_Entry]]:
        """Remove long-idle slots from the map; return them (to close) and the idle ones (to pause)."""
        stale, idle = [], []
        for key, slots in list(self._visitors.items()):
            for kind, entry in list(slots.items()):
                quiet = now - entry.last_seen
                if quiet >= self.idle_close_s:
                    stale.append(self._pop_locked(key, kind))
                    log.info("%s slot of %s closed after %.0f s idle", kind, key[:8], quiet)
                elif quiet >= self.idle_pause_s and self.kinds[kind].idle is not None:
                    idle.append(entry)
        return stale, idle

    def sweep(self, now: float | None = None) -> None:
        """Pause what nobody watches and close long-idle slots (both outside the lock)."""
        with self._lock:
            stale, idle = self._collect_locked(time.monotonic() if now is None else now)
            gone = {e.key for e in stale if e is not None and e.key not in self._visitors}
        for entry in idle:
            self.kinds[entry.kind].idle(entry.value)
        self._close_entries(stale)
        self._gone(gone)

    def _sweep_loop(self, every: float) -> None:
        while not self._stop.wait(every):
            try:
                self.sweep()
            except Exception:  # the janitor must survive anything a slot does
                log.exception("session sweep failed")

    def shutdown(self) -> None:
        """Stop the janitor and close every slot of every visitor."""
        self._stop.set()
        for key in self.keys():
            self.close(key)
