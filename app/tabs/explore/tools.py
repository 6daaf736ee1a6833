"""Event handlers of the latent explorer's tool tabs: the truncation trade-off (measured by
gan_core.explore.readout), interpolation as a strip and a GIF, browsing seeds and latent arithmetic."""

from __future__ import annotations

import time

import gradio as gr
import torch

from gan_core.explore import latent as lx
from gan_core.explore import readout
from gan_core.viz import explore as vx

from ...common.guard import guarded
from .parse import MAX_SEED, int_in, parse_psis, parse_seeds
from .view import ExploreView, tradeoff_picture, tradeoff_table

GIF_FPS = 12
GIF_PX = 256  # an image generator's GIF frames are about this large (pixelated), to read on a projector


class ToolEvents(ExploreView):
    """Truncation, interpolation, seeds and arithmetic."""

    # ----- truncation -----------------------------------------------------------------------------------------
    @guarded
    def truncation(self, request: gr.Request, psis_text, first_seed, n_seeds):
        s = self._state(request)
        psis = parse_psis(psis_text)
        first = int_in(first_seed, 0, MAX_SEED - 64, "first seed")
        n = int_in(n_seeds, 1, 16, "seeds per row")
        with s.lock:
            m = s.require()
            rows = []
            seeds = list(range(first, first + n))
            if m.kind == "image":
                x = lx.truncation_grid(m, seeds, psis, s.label)
                picture = vx.image_grid(x, n, scale=max(1, 48 // int(m.G.output_spec.size)))
            else:
                zs = m.latents(range(first, first + 400))
                pics = [s.plane.scatter(m.generate(m.truncate(zs, p)).numpy(), 200) for p in psis]
                picture = vx.hstack(pics)
            for p in psis:
                rows.append({"psi": p, **readout.tradeoff(m, p, s.label)})
        cap = ("Rows from top to bottom: psi = " + ", ".join(f"{p:g}" for p in psis) if m.kind == "image"
               else "Panels from left to right: psi = " + ", ".join(f"{p:g}" for p in psis))
        return {self.w.trunc_picture: picture, self.w.trunc_plot: tradeoff_picture(rows),
                self.w.trunc_table: tradeoff_table(rows), self.w.trunc_caption: cap}

    # ----- interpolation -----------------------------------------------------------------------------------------
    @guarded
    def interpolate(self, request: gr.Request, seeds_text, frames, mode):
        s = self._state(request)
        seeds = parse_seeds(seeds_text, "interpolation seeds", at_least=2)
        n = int_in(frames, len(seeds), 128, "frames")
        if mode not in ("slerp", "lerp"):
            raise ValueError("mode must be slerp or lerp")
        with s.lock:
            m = s.require()
            zs = lx.interpolate(m.latents(seeds), n, mode)
            if m.kind == "image":
                x = m.generate_each(zs, s.label)  # each frame exactly as the sliders show its latent
                scale = max(1, GIF_PX // int(m.G.output_spec.size))
                frames_px = [vx.tile(f, scale) for f in x]
                strip = vx.image_grid(x, min(n, 16), scale=max(1, 48 // int(m.G.output_spec.size)))
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
        first = int_in(first_seed, 0, MAX_SEED - 64, "first seed")
        with s.lock:
            m = s.require()
            seeds = list(range(first, first + 24))
            if m.kind == "image":
                x = m.generate(m.latents(seeds), s.label)
                scale = max(1, 64 // int(m.G.output_spec.size))
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
            scale = max(1, 64 // int(m.G.output_spec.size))
            rows = []
            for key in ("a", "b", "c"):
                zs = torch.cat([r["latents"][key], r["means"][key][None]])
                rows.append(vx.image_grid(m.generate(zs, s.label), len(zs), scale))
            result = vx.tile(m.generate(r["result"][None], s.label), scale * 2)
        picture = vx.hstack([vx.vstack(rows), result], gap=24)
        cap = (f"Rows: A = seeds {a}, B = seeds {b}, C = seeds {c}; the last image of each row is the image of "
               f"the row's mean latent. Right: G(mean(A) - mean(B) + mean(C)).")
        return {self.w.arith_picture: picture, self.w.arith_caption: cap}

    @guarded
    def suggest_recipe(self, request: gr.Request):
        """Fill A, B and C with seeds the classifier chose ("thick 7" - "thin 7" + "thin 1"), then compute."""
        s = self._state(request)
        with s.lock:
            m = s.require()
            if m.kind != "image":
                raise ValueError("latent arithmetic is shown on image generators; choose one under 'Model'")
            r = readout.suggest_recipe(m, s.label)
        if r is None:
            raise ValueError("no recipe for this generator: it needs the digits or shapes classifier and "
                             "enough confidently read samples among seeds 0-399")
        a, b, c = (", ".join(map(str, r[k])) for k in ("a", "b", "c"))
        out = self.arithmetic(request, a, b, c)
        works = r["read"] == r["expected"] and r["ink"] > r["ink_c"]
        note = (f"**Suggested recipe: {r['words']}** (seeds chosen by the classifier among 0-399). The "
                f"classifier reads the result as **{r['read']}** ({100 * r['confidence']:.0f} % sure), ink "
                f"{r['ink']:.2f} against {r['ink_c']:.2f} for the thin {r['expected']}s: "
                f"{'it works' if works else 'it does not work here'}.  \n")
        w = self.w
        return {w.arith_a: a, w.arith_b: b, w.arith_c: c, w.arith_picture: out[w.arith_picture],
                w.arith_caption: note + out[w.arith_caption]}
