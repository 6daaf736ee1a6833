"""Event handlers of the latent explorer tab. Each finds the caller's explorer state (app.explore_state),
calls the core (gan_core.explore.latent) and returns widget values; bad input becomes a gr.Error with a
one-line reason and the state is left as it was.

The explorer works on a frozen copy of a model: the visitor's live model on Train (images) or Train (2D)
(copied again whenever the tab is opened after more training) or a shipped checkpoint.
"""

from __future__ import annotations

import html
import math
import re
import time
from pathlib import Path

import gradio as gr
import numpy as np
import torch

from gan_core import checkpoint
from gan_core.data import files
from gan_core.explore import latent as lx
from gan_core.metrics import modes as mode_metrics
from gan_core.viz import explore as vx

from .explore_state import BASES, PSI_MAX, ROUTE, SLIDER_MAX, SLIDERS, VIEW_PX, ExploreSession, check_psi
from .train2d_events import guarded

LIVE_IMAGE, LIVE_2D = "live:image", "live:2d"
SNAPSHOT_WAIT_S = 2.0
MAX_SEEDS = 16  # seeds per list (interpolation keys, arithmetic terms)
MAX_SEED = 2**31 - 1
PSI_LIST_MAX = 8
GIF_FPS = 12
TARGET_KINDS = ("held-out image", "training image", "generated sample", "upload")


def source_choices(ckpt_dir: Path) -> list[tuple[str, str]]:
    """Model sources: the visitor's two live models, then every readable generator checkpoint shipped in
    `ckpt_dir` (evaluators excluded)."""
    out = [("Your model on Train (images)", LIVE_IMAGE), ("Your model on Train (2D)", LIVE_2D)]
    for p, meta in checkpoint.readable(ckpt_dir):
        path = Path(p)
        out.append((f"Shipped: {path.stem} ({meta['dataset']}, step {meta['step']})", f"ckpt:{path.name}"))
    return out


def parse_seeds(text, what: str = "seeds", at_least: int = 1) -> list[int]:
    """'3, 17 42' -> [3, 17, 42]; a clear message for anything else."""
    parts = [p for p in re.split(r"[,\s;]+", str(text or "").strip()) if p]
    if len(parts) < at_least:
        raise ValueError(f"{what}: give at least {at_least} seed{'s' if at_least > 1 else ''} (numbers such as 3, 17, 42)")
    if len(parts) > MAX_SEEDS:
        raise ValueError(f"{what}: at most {MAX_SEEDS} seeds, got {len(parts)}")
    out = []
    for p in parts:
        if not re.fullmatch(r"\d{1,10}", p) or int(p) > MAX_SEED:
            raise ValueError(f"{what}: {p[:20]!r} is not a seed (a whole number from 0 to {MAX_SEED})")
        out.append(int(p))
    return out


def parse_psis(text) -> list[float]:
    parts = [p for p in re.split(r"[,\s;]+", str(text or "").strip()) if p]
    if not parts:
        raise ValueError("psi values: give at least one, e.g. 1, 0.7, 0.4, 0")
    if len(parts) > PSI_LIST_MAX:
        raise ValueError(f"psi values: at most {PSI_LIST_MAX}, got {len(parts)}")
    out = []
    for p in parts:
        try:
            out.append(check_psi(float(p)))
        except ValueError:
            raise ValueError(f"psi values must be numbers between 0 and {PSI_MAX:g}, got {p[:20]!r}") from None
    return out


def _int_in(v, lo: int, hi: int, what: str) -> int:
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a whole number, got {v!r}") from None
    if not math.isfinite(f) or f != int(f) or not lo <= f <= hi:
        raise ValueError(f"{what} must be a whole number from {lo} to {hi}, got {v}")
    return int(f)


class ExploreEvents:
    """Handlers bound to the tab's widgets `w` and the app context `ctx`."""

    def __init__(self, ctx, w):
        self.ctx, self.w = ctx, w

    # ----- outputs ---------------------------------------------------------------------------------------
    @property
    def point_outputs(self) -> list:
        w = self.w
        return [w.view, w.readout, w.psi, w.page, *w.sliders]

    @property
    def model_outputs(self) -> list:
        w = self.w
        return [w.source, w.info, w.seed, w.label, w.basis, *self.point_outputs]

    def _state(self, request: gr.Request) -> ExploreSession:
        return self.ctx.explore_hub.get(getattr(request, "session_hash", None))

    def view_html(self, s: ExploreSession) -> str:
        """The live picture: an <img> fed by the render route (the token is this visitor's own)."""
        if s.model is None:
            return "<div class='lx-empty'>No model yet.</div>"
        s.renders += 1
        px = VIEW_PX if s.model.kind == "image" else 2 * VIEW_PX
        style = f"width:{px}px;max-width:100%;image-rendering:pixelated;border:1px solid #ccc"
        return (f"<img class='lx-img' data-token='{html.escape(s.token)}' alt='the generator at the current "
                f"point' src='{ROUTE.lstrip('/')}?t={html.escape(s.token)}&amp;r=s{s.renders}' style='{style};display:block'>"
                f"<canvas class='lx-canvas' style='{style};display:none'></canvas>")

    def readout(self, s: ExploreSession) -> str:
        """What the point is, in words: seed, slider moves, psi, and what the evaluator reads."""
        m = s.require()
        moves = []
        for basis in BASES:
            labels = s.direction_labels(basis)
            for lab, v in zip(labels, s.values(basis)):
                if abs(v) > 1e-6:
                    moves.append(f"{lab.split(' (')[0]} {v:+.2f}")
        base = f"seed {s.seed}" if s.extras.get("base") != "inverted" else "the inverted latent"
        txt = f"**Point:** {base}" + (f" + {', '.join(moves[:8])}" + (" …" if len(moves) > 8 else "") if moves else "")
        txt += f" · psi {s.psi:.2f}"
        if m.n_classes:
            txt += f" · class {s.label}"
        z = s.point()
        txt += f" · ‖z‖ = {float(z.norm()):.2f} (typical ‖z‖ ≈ {math.sqrt(m.z_dim):.1f})"
        read = self._classify(m, m.generate(z[None], s.label)) if m.kind == "image" else None
        if read:
            txt += f"  \n{read}"
        if m.kind == "2d":
            txt += ("  \nLeft: the latent plane through the point (spanned by the first two directions) with a "
                    "regular grid. Right: the data plane with real points (green), generated points (light "
                    "purple), that grid pushed through G, and the point's output G(z) (orange).")
        return txt

    @staticmethod
    def _classify(m: lx.LatentModel, x: torch.Tensor) -> str | None:
        """'The digit classifier reads 7 (93 %)' for generators of digits or shapes; None otherwise."""
        from gan_core.metrics import image_eval

        kind = image_eval.kind_of(m.dataset)
        if kind not in ("digits", "shapes"):
            return None
        try:
            model, card = image_eval.evaluator(kind)
        except ValueError:
            return None
        from gan_core.metrics.classifier import fit_images

        with torch.no_grad():
            p = model(fit_images(model, x)).softmax(1)[0]
        k = int(p.argmax())
        names = card.get("class_names") or [str(i) for i in range(len(p))]
        name = names[k] if k < len(names) else str(k)
        return f"The {kind} classifier reads **{name}** ({100 * float(p[k]):.0f} % sure)."

    def point_view(self, s: ExploreSession, sliders: bool = True) -> dict:
        """Picture, readout and (optionally) the sliders of the current page."""
        w = self.w
        out = {w.view: self.view_html(s), w.readout: self.readout(s), w.psi: gr.Slider(value=s.psi)}
        if not sliders:
            return {**out, w.page: gr.skip(), **{sl: gr.skip() for sl in w.sliders}}
        labels, vals, sl = s.direction_labels(), s.values(), s.page_slice()
        pages = s.pages()
        out[w.page] = gr.Dropdown(choices=[(self._page_label(i, len(vals)), i) for i in range(pages)],
                                  value=s.page, visible=pages > 1)
        for i, slider in enumerate(w.sliders):
            j = sl.start + i
            if j < sl.stop:
                out[slider] = gr.Slider(value=float(vals[j]), label=labels[j], visible=True)
            else:
                out[slider] = gr.Slider(value=0, label=f"direction {i + 1}", visible=False)
        return out

    @staticmethod
    def _page_label(i: int, n: int) -> str:
        return f"Directions {i * SLIDERS + 1}-{min(n, (i + 1) * SLIDERS)} of {n}"

    def model_view(self, s: ExploreSession) -> dict:
        w, m = self.w, s.require()
        d = s.bases["pca"]
        top = ", ".join(f"{100 * float(e):.1f}" for e in d.explained[:4])
        where = "the latent samples" if d.source == "z" else f"G's layer `{d.source}`"
        info = (f"**{html.escape(m.name)}** · {m.family} generator at step {m.step} · z has {m.z_dim} dimensions"
                + (f" · {m.n_classes} classes" if m.n_classes else "")
                + (f" (the last {m.spec.n_cat + m.spec.n_cont} are InfoGAN codes: "
                   + ", ".join(p for p in (f"a {m.spec.n_cat}-way category" if m.spec.n_cat else "",
                                           f"{m.spec.n_cont} continuous" if m.spec.n_cont else "") if p) + ")"
                   if m.spec.has_codes else "")
                + f"  \nPrincipal directions: PCA of {where} (GANSpace), regressed back to z; the first "
                  f"explain {top} % of its variance.")
        choices = [(f"{k}", k) for k in range(m.n_classes)]
        return {w.source: s.source, w.info: info, w.seed: s.seed,
                w.label: gr.Dropdown(choices=choices, value=s.label, visible=bool(m.n_classes)),
                w.basis: gr.Radio(value=s.basis), **self.point_view(s)}

    # ----- choosing a model ---------------------------------------------------------------------------------
    def _live_snapshot(self, request, which: str):
        reg = self.ctx.image_registry if which == LIVE_IMAGE else self.ctx.registry
        us = reg.get(request)
        return us.training.snapshot(wait=SNAPSHOT_WAIT_S)

    def _load_source(self, request, s: ExploreSession, source: str) -> None:
        if source in (LIVE_IMAGE, LIVE_2D):
            snap = self._live_snapshot(request, source)
            what = "Train (images)" if source == LIVE_IMAGE else "Train (2D)"
            model = lx.LatentModel.from_snapshot(snap, f"Your model on {what}")
            s.set_model(model, source, snap.step)
            return
        known = {v for _, v in source_choices(self.ctx.checkpoints_dir)}
        if not isinstance(source, str) or source not in known:
            raise checkpoint.CheckpointError(f"no model source named {str(source)[:60]!r}")
        name = source.split(":", 1)[1]
        ckpt = checkpoint.load(str(self.ctx.checkpoints_dir / name), "cpu")
        s.set_model(lx.LatentModel.from_checkpoint(ckpt, f"Shipped {Path(name).stem}"), source)

    def _default_source(self, request) -> str:
        key = getattr(request, "session_hash", None)
        for reg, src in ((self.ctx.image_registry, LIVE_IMAGE), (self.ctx.registry, LIVE_2D)):
            us = reg.peek(key) if reg is not None else None
            if us is not None and us.training.snapshot(wait=SNAPSHOT_WAIT_S).step > 0:
                return src
        shipped = [v for _, v in source_choices(self.ctx.checkpoints_dir) if v.startswith("ckpt:")]
        digits = [v for v in shipped if "digits-dcgan" in v]
        return (digits or [v for v in shipped if "digits" in v] or shipped or [LIVE_IMAGE])[0]

    @guarded
    def init(self, request: gr.Request):
        """Tab opened: choose a model the first time; copy a live model again if it trained since."""
        s = self._state(request)
        with s.lock:
            if s.model is None:
                self._load_source(request, s, self._default_source(request))
            elif s.source in (LIVE_IMAGE, LIVE_2D):
                snap = self._live_snapshot(request, s.source)
                if snap.step != s.source_step:
                    self._load_source(request, s, s.source)
            return self.model_view(s)

    @guarded
    def use_source(self, request: gr.Request, source):
        s = self._state(request)
        with s.lock:
            self._load_source(request, s, source)
            return self.model_view(s)

    # ----- the point -----------------------------------------------------------------------------------------
    @guarded
    def set_seed(self, request: gr.Request, seed):
        s = self._state(request)
        with s.lock:
            s.require()
            s.set_seed(_int_in(seed, 0, MAX_SEED, "seed"))
            s.extras.pop("base", None)
            return {self.w.seed: s.seed, **self.point_view(s, sliders=False)}

    @guarded
    def random_seed(self, request: gr.Request):
        return self.set_seed(request, int(np.random.default_rng().integers(0, 100_000)))

    @guarded
    def set_label(self, request: gr.Request, label):
        s = self._state(request)
        with s.lock:
            m = s.require()
            if not m.n_classes:
                raise ValueError("this generator has no classes")
            s.label = _int_in(label, 0, m.n_classes - 1, "class")
            return self.point_view(s, sliders=False)

    @guarded
    def set_basis(self, request: gr.Request, basis):
        s = self._state(request)
        with s.lock:
            s.require()
            if basis not in BASES:
                raise ValueError(f"basis must be one of {', '.join(BASES)}, got {str(basis)[:30]!r}")
            if basis == "saved" and not s.saved:
                raise ValueError("No saved directions yet: move some sliders, name the move and press "
                                 "'Save direction'.")
            s.basis, s.page = basis, 0
            return self.point_view(s)

    @guarded
    def set_page(self, request: gr.Request, page):
        s = self._state(request)
        with s.lock:
            s.require()
            s.page = _int_in(page, 0, s.pages() - 1, "page")
            return self.point_view(s)

    @guarded
    def move(self, request: gr.Request, psi, *values):
        """Slider released (the live picture already follows the drag through the render route): keep the
        values and say what the point is."""
        s = self._state(request)
        with s.lock:
            s.require()
            try:
                s.psi = check_psi(float(psi))
            except (TypeError, ValueError):
                raise ValueError(f"psi must be a number between 0 and {PSI_MAX:g}, got {psi!r}") from None
            try:
                vals = [float(v) for v in values]
            except (TypeError, ValueError):
                raise ValueError(f"slider values must be numbers within +-{SLIDER_MAX:g}") from None
            s.set_page_values(vals)
            return {self.w.view: gr.skip(), self.w.readout: self.readout(s)}

    @guarded
    def reset(self, request: gr.Request):
        s = self._state(request)
        with s.lock:
            s.require()
            s.reset_sliders()
            return self.point_view(s)

    @guarded
    def save_direction(self, request: gr.Request, name):
        s = self._state(request)
        with s.lock:
            s.require()
            name = str(name or "").strip()
            if not re.fullmatch(r"[\w .+\-]{1,40}", name):
                raise ValueError("Name the direction first (1-40 letters, digits, spaces, . + -).")
            d = s.displacement()
            if float(d.norm()) < 1e-6:
                raise ValueError("All sliders are at 0: move some sliders to the change you want, then save it.")
            if len(s.saved) >= 32 and name not in s.saved:
                raise ValueError("32 directions are saved already; that is the limit.")
            s.saved[name] = d.clone()
            gr.Info(f"Saved direction '{name}' (length {float(d.norm()):.2f} in z). Choose 'Saved "
                    "directions' to apply it with a slider to any seed.")
            return {self.w.saved_list: self._saved_md(s)}

    @staticmethod
    def _saved_md(s: ExploreSession) -> str:
        if not s.saved:
            return "No saved directions yet."
        return "Saved: " + ", ".join(f"**{html.escape(k)}** (‖d‖ {float(v.norm()):.2f})" for k, v in s.saved.items())

    @guarded
    def download(self, request: gr.Request):
        s = self._state(request)
        with s.lock:
            pic = s.picture(scale=s.display_scale())
        path = self._out_dir(request) / f"point-seed{s.seed}-{time.strftime('%H%M%S')}.png"
        path.write_bytes(lx.png_bytes(pic, compress=6))
        return gr.DownloadButton(value=str(path), label=f"Download {path.name}", visible=True)

    def _out_dir(self, request) -> Path:
        d = self.ctx.session_dir(getattr(request, "session_hash", "") or "") / "explore"
        d.mkdir(parents=True, exist_ok=True)
        return d

    # ----- truncation -----------------------------------------------------------------------------------------
    @guarded
    def truncation(self, request: gr.Request, psis_text, first_seed, n_seeds):
        s = self._state(request)
        psis = parse_psis(psis_text)
        first = _int_in(first_seed, 0, MAX_SEED - 64, "first seed")
        n = _int_in(n_seeds, 1, 16, "seeds per row")
        with s.lock:
            m = s.require()
            rows = []
            seeds = list(range(first, first + n))
            if m.kind == "image":
                x = lx.truncation_grid(m, seeds, psis, s.label)
                picture = vx.image_grid(x, n, scale=max(1, 48 // int(m.G.cfg.image_size)))
            else:
                pics = [s.plane.scatter(m.generate(lx.truncate(m.latents(range(first, first + 400)), p,
                                                               m.mean_latent())).numpy(), 200) for p in psis]
                picture = vx.hstack(pics)
            for p in psis:
                rows.append({"psi": p, **self._tradeoff(m, p, s.label)})
        cap = ("Rows from top to bottom: psi = " + ", ".join(f"{p:g}" for p in psis) if m.kind == "image"
               else "Panels from left to right: psi = " + ", ".join(f"{p:g}" for p in psis))
        return {self.w.trunc_picture: picture, self.w.trunc_table: rows, self.w.trunc_caption: cap}

    def _tradeoff(self, m: lx.LatentModel, psi: float, label) -> dict:
        """Variety and fidelity of 256 samples at psi (BigGAN's trade-off, measured)."""
        z = lx.truncate(models_sample(m, 256), psi, m.mean_latent())
        x = m.generate(z, label)
        if m.kind == "2d":
            out = {"variety (spread of points)": round(float(x.std(0).mean()), 4)}
            data = m.data
            if getattr(data, "modes", None) is not None:
                st = mode_metrics.mode_stats(x, data.modes, data.sigma)
                out.update({"fidelity (high-quality share)": round(float(st["hq"]), 3), "modes": st["modes"]})
            return out
        out = {"variety (pixel std across samples)": round(float(x.std(0).mean()), 4)}
        from gan_core.metrics import image_eval
        from gan_core.metrics.classifier import fit_images

        kind = image_eval.kind_of(m.dataset)
        if kind in ("digits", "shapes"):
            model, _ = image_eval.evaluator(kind)
            with torch.no_grad():
                p = model(fit_images(model, x)).softmax(1)
            out["fidelity (classifier confidence)"] = round(float(p.max(1).values.mean()), 3)
            out["classes covered"] = int((torch.bincount(p.argmax(1), minlength=p.shape[1]) >= 3).sum())
        return out

    # ----- interpolation -----------------------------------------------------------------------------------------
    @guarded
    def interpolate(self, request: gr.Request, seeds_text, frames, mode):
        s = self._state(request)
        seeds = parse_seeds(seeds_text, "interpolation seeds", at_least=2)
        n = _int_in(frames, len(seeds), 128, "frames")
        if mode not in ("slerp", "lerp"):
            raise ValueError("mode must be slerp or lerp")
        with s.lock:
            m = s.require()
            zs = lx.interpolate(m.latents(seeds), n, mode)
            if m.kind == "image":
                x = m.generate_each(zs, s.label)  # each frame exactly as the sliders show its latent
                scale = max(1, 96 // int(m.G.cfg.image_size))
                frames_px = [vx.tile(f, scale) for f in x]
                strip = vx.image_grid(x, min(n, 16), scale=max(1, 48 // int(m.G.cfg.image_size)))
            else:
                path = m.generate(zs).numpy()
                frames_px = [s.plane.render(z, s.directions(), path[:i + 1]) for i, z in enumerate(zs)]
                strip = s.plane.render(zs[-1], s.directions(), path)
        t0 = time.perf_counter()
        gif = lx.gif_bytes(frames_px, fps=GIF_FPS)
        path = self._out_dir(request) / f"interpolation-{'-'.join(map(str, seeds[:4]))}-{time.strftime('%H%M%S')}.gif"
        path.write_bytes(gif)
        cap = (f"{n} frames, {mode}, through seeds {', '.join(map(str, seeds))}; the first and last frames are "
               f"exactly those seeds' images. GIF written in {time.perf_counter() - t0:.2f} s "
               f"({len(gif) / 1024:.0f} KB).")
        return {self.w.interp_strip: strip, self.w.interp_gif: str(path), self.w.interp_caption: cap,
                self.w.interp_download: gr.DownloadButton(value=str(path), visible=True,
                                                          label=f"Download {path.name}")}

    # ----- browsing seeds and arithmetic -------------------------------------------------------------------------
    @guarded
    def browse(self, request: gr.Request, first_seed):
        s = self._state(request)
        first = _int_in(first_seed, 0, MAX_SEED - 64, "first seed")
        with s.lock:
            m = s.require()
            seeds = list(range(first, first + 24))
            if m.kind == "image":
                x = m.generate(m.latents(seeds), s.label)
                scale = max(1, 64 // int(m.G.cfg.image_size))
                items = [(vx.tile(xi, scale), f"seed {sd}") for xi, sd in zip(x, seeds)]
            else:
                items = [(s.plane.render(m.latent(sd), s.directions())[:, -vx.PANEL_PX:], f"seed {sd}")
                         for sd in seeds[:12]]
        return items

    @guarded
    def arithmetic(self, request: gr.Request, a_text, b_text, c_text):
        s = self._state(request)
        a, b, c = (parse_seeds(t, f"term {n}") for t, n in ((a_text, "A"), (b_text, "B"), (c_text, "C")))
        with s.lock:
            m = s.require()
            r = lx.arithmetic(m, a, b, c)
            if m.kind != "image":
                raise ValueError("latent arithmetic is shown on image generators; choose one under 'Model'")
            scale = max(1, 64 // int(m.G.cfg.image_size))
            rows = []
            for key in ("a", "b", "c"):
                zs = torch.cat([r["latents"][key], r["means"][key][None]])
                rows.append(vx.image_grid(m.generate(zs, s.label), len(zs), scale))
            result = vx.tile(m.generate(r["result"][None], s.label), scale * 2)
        picture = vx.hstack([vx.vstack(rows), result], gap=24)
        cap = (f"Rows: A = seeds {a}, B = seeds {b}, C = seeds {c}; the last image of each row is the image of "
               f"the row's mean latent. Right: G(mean(A) - mean(B) + mean(C)).")
        return {self.w.arith_picture: picture, self.w.arith_caption: cap}

    # ----- inversion ------------------------------------------------------------------------------------------
    def _target(self, s: ExploreSession, kind: str, index, upload) -> tuple[torch.Tensor, str]:
        m = s.require()
        if m.kind != "image":
            raise ValueError("inversion works on image generators; choose one under 'Model'")
        if kind == "upload":
            if not upload:
                raise ValueError("upload an image first (PNG or JPEG)")
            cfg = m.G.cfg
            x = files.load_image_file(str(upload), size=int(cfg.image_size), channels=int(cfg.channels))
            return x.reshape(1, *x.shape[-3:]), f"your image {Path(str(upload)).name}"
        if kind == "generated sample":
            sd = _int_in(index, 0, MAX_SEED, "seed")
            return m.generate(m.latent(sd)[None], s.label), f"G's sample for seed {sd}"
        train, held = lx.real_split(m)
        if kind == "held-out image":
            if held is None:
                raise ValueError("this generator was trained on every image of its set (held_out = 0): "
                                 "no held-out images; pick a training image or another generator")
            pool, what = held, "held-out image"
        elif kind == "training image":
            pool, what = train, "training image"
        else:
            raise ValueError(f"target must be one of {', '.join(TARGET_KINDS)}")
        i = _int_in(index, 0, len(pool) - 1, f"{what} number")
        return pool.images[i:i + 1], f"{what} #{i} of {len(pool)}"

    @guarded
    def invert(self, request: gr.Request, kind, index, upload, progress=gr.Progress()):
        s = self._state(request)
        with s.lock:
            target, what = self._target(s, kind, index, upload)
            m = s.model
            progress(0, desc="Inverting: 64 random starts, the best 8 optimised")
            inv = lx.invert(m, target, restarts=8, steps=400, label=None,
                            progress=lambda f: progress(f, desc="Inverting"))
            try:
                train, _ = lx.real_split(m)
            except ValueError:  # a generator of uploaded images: its training images are not kept
                train = None
            scale = max(1, 96 // int(m.G.cfg.image_size))
            err = (inv.recon - target).abs().mean(1, keepdim=True).expand_as(target) * 2 - 1
            pics = [target, inv.recon, err.clamp(-1, 1)]
            nn_txt = ""
            if train is not None:
                idx, nn_err = lx.nearest(target, train.images)
                pics.append(train.images[idx])
                nn_txt = (f" The nearest training image (right) is {float(nn_err[0]):.4f} away: a reconstruction "
                          "much closer than that to a training image would hint at memorisation.")
            picture = vx.image_grid(torch.cat(pics), len(pics), scale)
            s.extras["inverted"] = (inv.z[0].clone(), None if inv.labels is None else int(inv.labels[0]))
        cls = f" (class {int(inv.labels[0])})" if inv.labels is not None else ""
        md = (f"**Target:** {what}. Left to right: target, reconstruction{cls}, error (white = large)"
              + (", nearest training image" if train is not None else "") + ". "
              f"**MSE {float(inv.mse[0]):.5f}, PSNR {float(inv.psnr[0]):.1f} dB.**" + nn_txt)
        return {self.w.inv_picture: picture, self.w.inv_readout: md}

    @guarded
    def explore_inverted(self, request: gr.Request):
        s = self._state(request)
        with s.lock:
            if "inverted" not in s.extras:
                raise ValueError("invert an image first")
            z, label = s.extras["inverted"]
            if len(z) != s.require().z_dim:
                raise ValueError("the inverted latent belongs to another model; invert again")
            s.base_z, s.extras["base"] = z.clone(), "inverted"
            if label is not None:
                s.label = label
            s.reset_sliders()
            gr.Info("The sliders now start from the inverted latent (tab 'Sliders').")
            return {self.w.label: gr.Dropdown(value=s.label) if s.model.n_classes else gr.skip(),
                    **self.point_view(s)}

    @guarded
    def mre(self, request: gr.Request, n, progress=gr.Progress()):
        s = self._state(request)
        k = _int_in(n, 4, 256, "images per group")
        with s.lock:
            m = s.require()
            if m.kind != "image":
                raise ValueError("inversion works on image generators; choose one under 'Model'")
            progress(0, desc="Inverting training and held-out images")
            r = lx.inversion_report(m, n_generated=k, n_real=k,
                                    progress=lambda what, f: progress(f, desc=f"Inverting {3 * k} images"))
        rows = [{"images": "generated (G's own samples)", "n": r["n_generated"],
                 "median MSE": None, "median PSNR (dB)": round(r["inversion_psnr_median"], 1)},
                {"images": "training", "n": r["n_train"], "median MSE": round(r["mre_train"], 5),
                 "median PSNR (dB)": round(float(lx.psnr_db(torch.tensor(r["mre_train"]))), 1)}]
        if r["mre_heldout"] is not None:
            rows.append({"images": "held out of training", "n": r["n_heldout"],
                         "median MSE": round(r["mre_heldout"], 5),
                         "median PSNR (dB)": round(float(lx.psnr_db(torch.tensor(r["mre_heldout"]))), 1)})
            ratio = r["mre_ratio"]
            verdict = ("about the same: no sign of memorisation" if ratio < 1.25 else
                       "training images are reconstructed better: some memorisation" if ratio < 2 else
                       "training images are reconstructed much better: the GAN memorises")
            md = (f"Minimum reconstruction error (MRE), held-out / training = **{ratio:.2f}**: {verdict}. "
                  f"For scale, a held-out image's nearest training image is {r['nn_heldout']:.4f} away (median).")
        else:
            md = "This generator saw every image of its set, so there is no held-out group to compare with."
        return {self.w.mre_table: rows, self.w.mre_readout: md}


def models_sample(m: lx.LatentModel, n: int) -> torch.Tensor:
    from gan_core import models

    return models.sample_latent(m.spec, n, torch.Generator().manual_seed(99))
