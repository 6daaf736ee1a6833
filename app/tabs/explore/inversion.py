"""Event handlers of the latent explorer's Inversion tab: find the latent of a picture (a training or
held-out image, a generated sample or an upload), explore it with the sliders, and the memorisation
check (minimum reconstruction error of training against held-out images)."""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import torch

from gan_core.data import files
from gan_core.explore import latent as lx
from gan_core.viz import explore as vx

from ...common.guard import guarded
from .parse import MAX_SEED, TARGET_KINDS, int_in
from .state import ExploreSession
from .view import ExploreView


class InversionEvents(ExploreView):
    """Inversion and the memorisation check."""

    # ----- inversion ------------------------------------------------------------------------------------------
    def _target(self, s: ExploreSession, kind: str, index, upload) -> tuple[torch.Tensor, str]:
        m = s.require()
        if m.kind != "image":
            raise ValueError("inversion works on image generators; choose one under 'Model'")
        if kind == "upload":
            if not upload:
                raise ValueError("upload an image first (PNG or JPEG)")
            out = m.G.output_spec
            x = files.load_image_file(str(upload), size=int(out.size), channels=int(out.channels))
            return x.reshape(1, *x.shape[-3:]), f"your image {Path(str(upload)).name}"
        if kind == "generated sample":
            sd = int_in(index, 0, MAX_SEED, "seed")
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
        i = int_in(index, 0, len(pool) - 1, f"{what} number")
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
            scale = max(1, 96 // int(m.G.output_spec.size))
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
        k = int_in(n, 4, 256, "images per group")
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
