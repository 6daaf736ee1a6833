"""The latent explorer's per-visitor state and its fast render route.

Dragging a latent slider must feel live, and Gradio's event queue costs about 150 ms a round trip here.
So the explorer's main picture is an `<img>` that a few lines of JavaScript point at a small route beside
the Gradio app, `GET /explore/render?t=TOKEN&psi=..&v0=..&v7=..`, while a slider moves; one request is
in flight at a time and the newest slider values win.

Safety: each visitor's explorer state gets a random token (`secrets.token_urlsafe`) when it is created,
and the page learns it only through that visitor's own Gradio events. The route renders only the model
of the state the token names, accepts only the parameters above, each parsed and bounded, and serves
nothing else; a wrong token, an unknown parameter or a value out of range is refused with a one-line
reason. States are closed with the browser tab (`demo.unload`), when idle, or when the cap is reached.
"""

from __future__ import annotations

import math
import re
import secrets
import threading
import time
from dataclasses import dataclass, field

import gradio as gr
import numpy as np
import torch

from gan_core.explore import latent as lx
from gan_core.viz import explore as vx

SLIDERS = 8  # direction sliders on one page
SLIDER_MAX = 5.0  # slider range in standard deviations of its direction
PSI_MAX = 2.0  # truncation psi range [0, PSI_MAX]
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
ROUTE = "/explore/render"
ROUTE_PARAMS = {"t", "psi", "r", *(f"v{i}" for i in range(SLIDERS))}
MAX_QUERY = 600  # characters
BASES = {"pca": "Principal directions", "axes": "Latent dimensions", "saved": "Saved directions"}
VIEW_PX = 320  # the image tile is shown this large (the browser enlarges it, pixelated)


class RouteError(ValueError):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@dataclass
class ExploreSession:
    """One visitor's explorer: a frozen copy of a model, the current point and saved directions.
    All reads and writes go through `lock`."""

    key: str
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    lock: threading.RLock = field(default_factory=threading.RLock)
    model: lx.LatentModel | None = None
    source: str = ""  # the model source's choice value
    source_step: int = -1  # training step of a live source when copied
    plane: vx.PlaneView | None = None
    bases: dict = field(default_factory=dict)  # basis name -> Directions
    saved: dict = field(default_factory=dict)  # direction name -> displacement (z_dim,)
    basis: str = "pca"
    base_z: torch.Tensor | None = None
    seed: int = 0
    label: int | None = None
    psi: float = 1.0
    offsets: dict = field(default_factory=dict)  # basis name -> slider values (n,)
    page: int = 0
    renders: int = 0
    last_seen: float = field(default_factory=time.monotonic)
    extras: dict = field(default_factory=dict)  # results kept for follow-up actions (inversion)

    # ----- the model -------------------------------------------------------------------------------------
    def set_model(self, model: lx.LatentModel, source: str, step: int = -1) -> None:
        with self.lock:
            self.model, self.source, self.source_step = model, source, step
            self.plane = vx.PlaneView(model) if model.kind == "2d" else None
            self.bases = {"pca": lx.pca_directions(model), "axes": lx.axis_directions(model.z_dim)}
            if self.saved and any(len(v) != model.z_dim for v in self.saved.values()):
                self.saved = {}  # directions of another latent space mean nothing here
            self.offsets = {}
            self.label = 0 if model.n_classes else None
            self.page, self.psi = 0, 1.0
            self.set_seed(self.seed)
            self.extras = {}

    def require(self) -> lx.LatentModel:
        if self.model is None:
            raise ValueError("No model to explore yet: choose one under 'Model' first.")
        return self.model

    # ----- directions and the point ----------------------------------------------------------------------
    def directions(self, basis: str | None = None) -> lx.Directions | None:
        basis = basis or self.basis
        if basis == "saved":
            if not self.saved:
                return None
            d = torch.stack(list(self.saved.values()))  # (S, z_dim) displacements
            norms = d.norm(dim=1).clamp_min(1e-12)
            return lx.Directions(d / norms[:, None], norms, torch.zeros(len(d)), "saved")
        return self.bases.get(basis)

    def direction_labels(self, basis: str | None = None) -> list[str]:
        basis = basis or self.basis
        d = self.directions(basis)
        if d is None:
            return []
        if basis == "saved":
            return list(self.saved)
        if basis == "axes":  # InfoGAN code entries say which code they are
            spec = self.model.spec
            k, cats = spec.noise_dim, spec.n_cat
            return [f"z[{i}]" + ("" if i < k else f" (category {i - k})" if i < k + cats
                                 else f" (code {i - k - cats})") for i in range(len(d))]
        return d.labels()

    def values(self, basis: str | None = None) -> np.ndarray:
        basis = basis or self.basis
        d = self.directions(basis)
        n = 0 if d is None else len(d)
        v = self.offsets.get(basis)
        if v is None or len(v) != n:
            v = self.offsets[basis] = np.zeros(n, np.float32)
        return v

    def pages(self) -> int:
        return max(1, -(-len(self.values()) // SLIDERS))

    def page_slice(self) -> slice:
        n = len(self.values())
        self.page = min(self.page, self.pages() - 1)
        return slice(self.page * SLIDERS, min(n, (self.page + 1) * SLIDERS))

    def set_page_values(self, vals) -> None:
        """Slider values of the shown page (extra values beyond the page are ignored)."""
        v, sl = self.values(), self.page_slice()
        n = sl.stop - sl.start
        vals = [float(x) for x in list(vals)[:n]]
        for x in vals:
            check_slider(x)
        v[sl.start:sl.start + len(vals)] = vals

    def displacement(self) -> torch.Tensor:
        m = self.require()
        total = torch.zeros(m.z_dim)
        for basis in BASES:
            d = self.directions(basis)
            if d is None:
                continue
            a = torch.as_tensor(self.values(basis))
            if a.numel():
                total += (a * d.std) @ d.vectors
        return total

    def point(self) -> torch.Tensor:
        """The current latent: base + every slider's move, truncated by psi toward the mean."""
        m = self.require()
        return lx.truncate(self.base_z + self.displacement(), self.psi, m.mean_latent())

    def set_seed(self, seed: int) -> None:
        m = self.require()
        self.seed = int(seed)
        self.base_z = m.latent(self.seed)

    def reset_sliders(self) -> None:
        self.offsets = {}
        self.psi = 1.0

    # ----- pictures --------------------------------------------------------------------------------------
    def picture(self, scale: int = 1, z: torch.Tensor | None = None) -> np.ndarray:
        """The current point's picture: an image tile (scaled) or the 2D two-panel view."""
        m = self.require()
        z = self.point() if z is None else z
        if m.kind == "2d":
            return self.plane.render(z, self.directions())
        return vx.tile(m.generate(z[None], self.label), scale)

    def render_png(self) -> bytes:
        with self.lock:
            pic = self.picture()
            self.renders += 1
        return lx.png_bytes(pic)

    def display_scale(self) -> int:
        m = self.require()
        return 1 if m.kind == "2d" else max(1, VIEW_PX // int(m.G.cfg.image_size))


def check_slider(x: float) -> float:
    if not math.isfinite(x) or abs(x) > SLIDER_MAX:
        raise ValueError(f"slider values must be finite and within +-{SLIDER_MAX:g}, got {x}")
    return x


def check_psi(x: float) -> float:
    if not math.isfinite(x) or not 0.0 <= x <= PSI_MAX:
        raise ValueError(f"psi must be between 0 and {PSI_MAX:g}, got {x}")
    return x


class ExploreHub:
    """Explorer states by Gradio session hash, and the same states by token for the render route."""

    def __init__(self, max_sessions: int = 16, idle_close_s: float = 3600.0):
        self.max_sessions, self.idle_close_s = max_sessions, idle_close_s
        self._by_key: dict[str, ExploreSession] = {}
        self._by_token: dict[str, ExploreSession] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._by_key)

    def get(self, key: str | None) -> ExploreSession:
        if not key:
            raise ValueError("This action needs a browser or API session; reload the page and try again.")
        with self._lock:
            s = self._by_key.get(key)
            if s is None:
                self._evict_locked()
                s = ExploreSession(key)
                self._by_key[key], self._by_token[s.token] = s, s
            s.last_seen = time.monotonic()
            return s

    def _evict_locked(self) -> None:
        now = time.monotonic()
        for k, s in list(self._by_key.items()):
            if now - s.last_seen > self.idle_close_s:
                self._drop_locked(k)
        while len(self._by_key) >= self.max_sessions:  # the least recently used goes
            self._drop_locked(min(self._by_key, key=lambda k: self._by_key[k].last_seen))

    def _drop_locked(self, key: str) -> None:
        s = self._by_key.pop(key, None)
        if s is not None:
            self._by_token.pop(s.token, None)

    def close(self, key: str) -> None:
        with self._lock:
            self._drop_locked(key)

    def close_request(self, request: "gr.Request") -> None:
        key = getattr(request, "session_hash", None)
        if key:
            self.close(key)

    def by_token(self, token: str) -> ExploreSession:
        if not isinstance(token, str) or not TOKEN_RE.match(token):
            raise RouteError(400, "malformed token")
        with self._lock:
            s = self._by_token.get(token)
        if s is None:
            raise RouteError(403, "unknown or expired explorer token: reload the page")
        s.last_seen = time.monotonic()
        return s

    # ----- the route ------------------------------------------------------------------------------------
    def render_query(self, params: dict[str, list[str]], query_len: int = 0) -> bytes:
        """Validate a render request's parameters (name -> values), update the token's point, and return
        its picture as PNG bytes; RouteError(status, reason) for anything wrong."""
        if query_len > MAX_QUERY:
            raise RouteError(414, "query too long")
        unknown = sorted(set(params) - ROUTE_PARAMS)
        if unknown:
            raise RouteError(400, f"unknown parameter {unknown[0][:20]!r}")
        if any(len(v) != 1 for v in params.values()):
            raise RouteError(400, "each parameter may appear once")
        if "t" not in params:
            raise RouteError(400, "missing token t")
        s = self.by_token(params["t"][0])
        try:
            psi = check_psi(_float(params["psi"][0], "psi")) if "psi" in params else None
            vals = {}
            for i in range(SLIDERS):
                if f"v{i}" in params:
                    vals[i] = check_slider(_float(params[f"v{i}"][0], f"v{i}"))
            with s.lock:
                if s.model is None:
                    raise RouteError(409, "no model to explore yet")
                if psi is not None:
                    s.psi = psi
                if vals:
                    v, sl = s.values(), s.page_slice()
                    for i, x in vals.items():
                        if sl.start + i < sl.stop:
                            v[sl.start + i] = x
                return s.render_png()
        except RouteError:
            raise
        except ValueError as e:
            raise RouteError(400, str(e)) from None


def _float(text: str, name: str) -> float:
    if len(text) > 32:
        raise ValueError(f"{name} is too long")
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {text[:20]!r}") from None


def make_routes(hub: ExploreHub) -> list:
    """Starlette routes to pass to the Gradio app (launch(app_kwargs={'routes': ...}))."""
    from starlette.responses import PlainTextResponse, Response
    from starlette.routing import Route

    headers = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}

    def render(request):  # a sync endpoint: Starlette runs it in its thread pool
        params: dict[str, list[str]] = {}
        for k, v in request.query_params.multi_items():
            params.setdefault(k, []).append(v)
        try:
            png = hub.render_query(params, len(request.url.query))
        except RouteError as e:
            return PlainTextResponse(str(e), status_code=e.status, headers=headers)
        except Exception as e:  # a broken model must not take the server down
            return PlainTextResponse(f"render failed ({type(e).__name__})", status_code=500, headers=headers)
        return Response(png, media_type="image/png", headers=headers)

    return [Route(ROUTE, render, methods=["GET"])]
