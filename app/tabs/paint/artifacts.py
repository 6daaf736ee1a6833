"""GANPaint's "Artifact units" panel (GAN Dissection, Bau et al. 2019, section 4.2): find the units of the
current model whose removal brings its pictures closer to the real images (gan_core.inspect.artifacts),
show the FD before, after removing them and after removing as many random units, the generated images
that raised the FD most before and after, and let the painter draw without those units.

The search scores each image by its share of the FD in the scenes segmenter's features, so it is there
for the generators that have a segmenter (the scenes ones); for the others the panel says why not. It
runs on a copy of the visitor's frozen generator, outside the painter's lock, so painting goes on while
it works; its result is kept only when the model did not change meanwhile.
"""

from __future__ import annotations

import copy
import html

import gradio as gr
import numpy as np
import pandas as pd

from gan_core.data import registry
from gan_core.inspect import artifacts

from ...common.guard import guarded
from .state import PaintSession

SAMPLE_CHOICES = (100, 200, 300, 400, 500)
MIN_SAMPLES, MAX_SAMPLES, DEFAULT_SAMPLES = 100, 500, 200
PAIR_PX = 128  # each picture of a pair drawn this wide (32x32 pictures 4x, nearest neighbour)
GAP = 8  # pixels between the picture before and after
FD_SETS = ("as generated", "units removed", "random units removed")  # the bar chart's bars

HINT = ("Press **Find artifact units** to search this model's widest layer for units whose removal makes its "
        "pictures closer to the real images (from about ten seconds to a minute for 200 samples, with the "
        "server's load).")


def not_available(s: PaintSession) -> str | None:
    """Why the search cannot run on the visitor's model, or None when it can."""
    if s.model is None:
        return "No model yet: choose one under 'Model' first."
    if s.painter is None:
        return ("Artifact units are not available for this generator: it makes 2D points, and the search "
                "compares generated pictures with real ones.")
    if s.painter.segment is None:
        data = f" ({s.model.dataset})" if s.model.dataset else ""
        return ("Artifact units are not available for this generator" + data + ": the search scores each "
                "picture by its share of the FD in the scenes segmenter's features, and only the scenes "
                "generators have a segmenter.")
    if s.model.G.latent_spec.n_classes:
        return ("Artifact units are not available for this generator: the search needs an unconditional "
                "generator.")
    return None


def samples_of(v) -> int:
    try:
        x = float(str(v).strip())
    except (TypeError, ValueError):
        raise ValueError(f"Samples must be a whole number from {MIN_SAMPLES} to {MAX_SAMPLES}, "
                         f"got {str(v)[:20]!r}") from None
    if not x.is_integer() or not MIN_SAMPLES <= x <= MAX_SAMPLES:
        raise ValueError(f"Samples must be a whole number from {MIN_SAMPLES} to {MAX_SAMPLES}, "
                         f"got {str(v)[:20]}")
    return int(x)


def pair(before: np.ndarray, after: np.ndarray, gap: int = GAP) -> np.ndarray:
    """One picture (S, S, 3) before and after, side by side on white, each scaled by a whole factor to
    about PAIR_PX: uint8 (S*k, 2*S*k + gap, 3)."""
    k = max(1, PAIR_PX // before.shape[0])
    big = lambda a: np.kron(a, np.ones((k, k, 1), np.uint8))  # noqa: E731
    b, a = big(before), big(after)
    return np.concatenate([b, np.full((b.shape[0], gap, 3), 255, np.uint8), a], axis=1)


def fd_frame(r: dict | None) -> pd.DataFrame | None:
    """The bar chart's data (None: an empty chart; Gradio's bar chart draws nothing after an empty frame)."""
    if r is None:
        return None
    if not r["units"]:
        return pd.DataFrame({"pictures": [FD_SETS[0]], "FD": [r["fd_before"]]})
    return pd.DataFrame({"pictures": list(FD_SETS), "FD": [r["fd_before"], r["fd_after"], r["fd_random"]]})


def summary(r: dict) -> str:
    """The layer, the units found, the three FDs and what they mean."""
    units = ", ".join(str(u) for u in r["units"])
    head = (f"Layer `{html.escape(r['layer'])}` ({r['layer_units']} units), {r['samples']} samples: ")
    if not r["units"]:
        return head + (f"**no artifact units found** (FD {r['fd_before']:.5f}, lower is closer to the real "
                       "images): removing any of the likeliest candidates alone made the FD on the search "
                       "samples worse. Try more samples. Below, the generated pictures that raised the FD "
                       "most.")
    before, after, rand = r["fd_before"], r["fd_after"], r["fd_random"]
    rel = lambda f: f"{100 * (f / before - 1):+.1f} %"  # noqa: E731
    k = r["k"]
    table = ("\n\nThe FD against the real images (lower is closer to the real images):\n\n"
             "| pictures | FD | change |\n| --- | --- | --- |\n"
             f"| as generated | {before:.5f} | |\n"
             f"| artifact units removed | {after:.5f} | {rel(after)} |\n"
             f"| {k} random units removed (mean of {len(r.get('fd_random_draws', []))}) | {rand:.5f} | "
             f"{rel(rand)} |\n\n")
    if after < before and after < rand:
        verdict = (f"Removing these {k} units changes the FD by {rel(after)} and removing {k} random units "
                   f"by {rel(rand)}: these units draw something the real images lack, more than units taken "
                   "at random do.")
    elif after < before:
        verdict = (f"Removing these {k} units changes the FD by {rel(after)}, but removing {k} random units "
                   f"changes it as much ({rel(rand)}): in a generator this narrow any removal moves the FD, "
                   "so these are weak artifact units.")
    else:
        verdict = (f"On the measured samples (other latents than the search's) removing these units changes "
                   f"the FD by {rel(after)}: they are not artifact units there. Try more samples.")
    return (head + f"artifact units **{units}**." + table + verdict +
            " Below, the generated pictures that raised the FD most, as generated (left) and without the "
            "units (right); each caption gives the picture's share of the FD before and after.")


class ArtifactEvents:
    """The panel's handlers, mixed into the tab's handler class (self.ctx, self.w, self._state,
    self.picture_view)."""

    def artifact_view(self, s: PaintSession) -> dict:
        """The panel: the last search on the visitor's model, else the hint or why it is not available."""
        w, r = self.w, s.artifacts
        if r is None:
            return {w.art_info: not_available(s) or HINT, w.art_plot: fd_frame(None), w.art_gallery: [],
                    w.art_remove: gr.Checkbox(value=False, interactive=False)}
        pics = [(pair(b, a), f"#{i}: FD share {100 * sb:+.1f} % → {100 * sa:+.1f} %")
                for i, b, a, sb, sa in zip(r["worst"], r["images_before"], r["images_after"],
                                           r["worst_share_before"], r["worst_share_after"])]
        return {w.art_info: summary(r), w.art_plot: fd_frame(r), w.art_gallery: pics,
                w.art_remove: gr.Checkbox(value=s.remove_artifacts, interactive=bool(r["units"]))}

    @guarded
    def find_artifacts(self, request: gr.Request, samples, progress=gr.Progress()):
        n = samples_of(samples)
        s = self._state(request)
        with s.lock:
            why = not_available(s)
            if why:
                raise ValueError(why)
            model, segment = s.model, s.painter.segment
            G = copy.deepcopy(s.painter.G)  # the search's hooks must not reach strokes drawn meanwhile
        progress(0, desc="Finding artifact units")
        real = registry.image_dataset(model.dataset).images
        r = artifacts.find_and_show(G, real, n, segment,
                                    progress=lambda f, what: progress(f, desc=f"Artifact units: {what}"))
        with s.lock:
            if s.model is not model:
                raise ValueError("The model changed during the search: press Find artifact units again.")
            s.artifacts, s.remove_artifacts = r, False
            return {**self.artifact_view(s), **self.picture_view(s)}

    @guarded
    def remove_artifacts(self, request: gr.Request, on):
        s = self._state(request)
        with s.lock:
            s.require()
            on = bool(on)
            if on and not (s.artifacts and s.artifacts["units"]):
                raise ValueError("No artifact units to remove yet: press Find artifact units first.")
            s.remove_artifacts = on
            return self.picture_view(s)
