"""Named presets: a title, a one-paragraph explanation for the class, and the training config.

The 2D figures in each description are what `python -m gan_core train --preset NAME --json` measures
over seeds 0-4 on a 2-core CPU (see docs/figures.md for the table and the commands).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .config import TrainConfig


@dataclass(frozen=True)
class Promise:
    """What a demo preset shows a class, as a check on its evaluations: `metric` lies in [low, high] at
    every evaluation from step `after` on (`when` "every": the demo keeps its promise for as long as it
    runs), at the last evaluation (`when` "end"), or at one evaluation at least (`when` "any": the
    phenomenon comes and goes, and the demo is sure to show it once within its length)."""

    metric: str  # an evaluation key, e.g. "modes"
    low: float = -math.inf  # smallest value that keeps the promise
    high: float = math.inf  # largest value that keeps the promise
    when: str = "every"  # every | end | any
    after: int = 0  # evaluations before this step are not judged (the warm-up)
    until: int | None = None  # the demo's length in the app: the page pauses there (None: the run's steps)
    text: str = ""  # the promise in the class's words

    def check(self, rows: list[dict]) -> dict:
        """{"holds", "evaluations" judged, "first_broken" step (None), "worst" value} over history rows;
        with `when` "any", "first_broken" is None and "worst" is the value nearest the range (the best
        evaluation), "seen_at" the first step inside it (None)."""
        evals = [r for r in rows if isinstance(r.get(self.metric), (int, float)) and r.get("step", 0) >= self.after]
        if self.when == "end":
            evals = evals[-1:]
        inside = [r for r in evals if self.low <= r[self.metric] <= self.high]
        values = [r[self.metric] for r in evals]
        upper = self.high < math.inf  # judged against an upper bound: the largest value is the worst
        if self.when == "any":
            best = (min(values) if upper else max(values)) if values else None
            return {"holds": bool(inside), "evaluations": len(evals), "first_broken": None, "worst": best,
                    "seen_at": inside[0]["step"] if inside else None}
        bad = [r for r in evals if r not in inside]
        worst = (max(values) if upper else min(values)) if values else None
        return {"holds": bool(evals) and not bad, "evaluations": len(evals),
                "first_broken": bad[0]["step"] if bad else None, "worst": worst}


def promise_said(promise, verdict: dict) -> str:
    """One sentence on whether a demo kept its promise (a preset's Promise and its check's verdict)."""
    if promise.when == "any":
        if verdict["holds"]:
            return f" It showed what it promised at step {verdict['seen_at']:,}: {promise.text}."
        return f" It did not show what it promised ({promise.text}) in {verdict['evaluations']} evaluations."
    if verdict["holds"]:
        return f" It kept its promise all along: {promise.text}."
    if verdict["first_broken"] is None:
        return f" Its promise ({promise.text}) was not judged: no evaluation yet."
    return f" Its promise ({promise.text}) broke at step {verdict['first_broken']:,}."


@dataclass(frozen=True)
class Preset:
    name: str
    title: str
    description: str
    config: TrainConfig
    kind: str = "2d"  # 2d | image
    promise: Promise | None = None  # a demo preset's phenomenon, checked by `python -m gan_core demos`


def _mlp(w: int = 64, layers: int = 2, z: int = 2, pack: int = 1, **kw) -> dict:
    return {"g_hidden": w, "d_hidden": w, "g_layers": layers, "d_layers": layers, "z_dim": z, "pack": pack,
            **kw}


PRESETS: dict[str, Preset] = {}


def register(p: Preset) -> Preset:
    PRESETS[p.name] = p
    return p


register(Preset(
    "stable-ring", "Stable: all 8 modes",
    "Non-saturating loss, Adam, a moving average of G's weights and a learning rate that decays: the "
    "generator covers all 8 modes of the ring with sharp points. Compare with the collapse demo.",
    TrainConfig(dataset="ring", model=_mlp(64, 2, 2), loss="nonsaturating", lr_d=1e-3, lr_g=1e-3,
                batch_size=128, g_ema=0.999, lr_final=0.1, steps=40_000, eval_every=1000)))

register(Preset(
    "collapse-ring", "Mode collapse: watch it happen",
    "The setting of the Unrolled GAN paper's first figure (Metz et al. 2017): a plain GAN with the "
    "non-saturating loss and a one-layer discriminator. The generator piles all its points onto one mode, "
    "D learns to reject that spot, and G jumps to another mode: the mode counter stays at 0-2 of 8 while "
    "the fake points hop around the ring, for as long as it runs (over seeds 0-4 it held for 50,000 "
    "steps). The page pauses at step 30,000, the demo's length. Remedies to try live: unroll D (5 "
    "steps), or reset with pack 2.",
    TrainConfig(dataset="ring", model=_mlp(128, 2, 16, d_hidden=128, d_layers=1), loss="nonsaturating",
                lr_d=1e-4, lr_g=1e-4, batch_size=256, steps=6_000, eval_every=200),
    promise=Promise("modes", high=2, until=30_000, text="at most 2 of 8 modes covered at every evaluation")))

register(Preset(
    "stable-grid", "Stable: the 25-mode grid",
    "PacGAN packing (D judges 2 samples at once) with the non-saturating loss, EMA of G and a decaying "
    "learning rate, on the 25 Gaussians of the PacGAN benchmark. The networks work in data units divided "
    "by 4 (x_scale), so the grid's +-4 range looks like +-1 to them.",
    TrainConfig(dataset="grid", model=_mlp(64, 3, 4, pack=2, x_scale=4.0), loss="nonsaturating",
                lr_d=1e-3, lr_g=1e-3, batch_size=256, g_ema=0.999, lr_final=0.05, steps=50_000,
                eval_every=2500)))

register(Preset(
    "wgan-gp", "WGAN-GP",
    "Wasserstein critic with a gradient penalty (lambda 10), 5 critic steps per generator step: smooth "
    "critic surface, slower but steady progress. The heatmap shows the critic's score, not a probability.",
    TrainConfig(dataset="ring", model=_mlp(64, 2, 2), loss="wgan-gp", lr_d=1e-4, lr_g=1e-4, beta1=0.5,
                beta2=0.9, d_steps=5, batch_size=128, steps=10_000, eval_every=500)))

register(Preset(
    "least-squares", "Least squares (LSGAN)",
    "The least-squares loss pulls fake points toward the decision boundary with gradients that do not "
    "vanish far from it.",
    TrainConfig(dataset="ring", model=_mlp(64, 2, 2), loss="lsgan", lr_d=5e-4, lr_g=5e-4,
                batch_size=128, g_ema=0.999, steps=20_000, eval_every=500)))

register(Preset(
    "saturating", "Saturating (minimax) loss",
    "The original minimax loss: G minimises log(1 - D(G(z))). Where D rejects the fakes confidently this "
    "loss is flat: G's gradient is D(G(z)) times the non-saturating loss's. Here D learns faster (3 steps "
    "per G step, 10x G's rate): after 20 steps D(G(z)) is about 0.06 and G's gradient about a tenth of the "
    "non-saturating one. With plain gradient descent G would stall (the original GAN paper's reason for "
    "the non-saturating loss); Adam divides each step by the gradient's recent size, so here the fakes "
    "still travel to the ring. Compare G's loss curve with the non-saturating run's, and switch the loss "
    "while it runs.",
    TrainConfig(dataset="ring", model=_mlp(64, 2, 2), loss="minimax", lr_d=2e-3, lr_g=2e-4, d_steps=3,
                batch_size=128, steps=10_000, eval_every=500)))


def _dcgan(size: int = 16, channels: int = 1, z: int = 32, base: int = 32, **kw) -> dict:
    return {"image_size": size, "channels": channels, "z_dim": z, "g_base": base, "d_base": base, **kw}


# Image presets: DCGAN with Adam(2e-4, beta1 0.5) and batch 64 as in the DCGAN paper, except digits-dcgan
# and scenes-dcgan, which use the SN-GAN recipe (digits-dcgan also an InfoGAN code; docs/figures.md has
# the comparisons); samples and metrics use a moving average of G's weights. Step counts fit the CPU time
# budget of docs/figures.md.
register(Preset(
    "digits-dcgan", "Digits (DCGAN)",
    "A DCGAN learns scikit-learn's handwritten digits (16x16) without their labels. Watch the grid go from "
    "grey blobs to strokes to digits, and the class histogram fill all ten bars. Its latent ends in an "
    "InfoGAN code with 10 categories (one per grid row): a small head on D learns to tell the category "
    "from the image, and G is rewarded when it can. Nobody says what a category means, yet several "
    "become one digit each and the rest hold two or three look-alikes, so G draws far fewer blends "
    "between digits. D uses spectral normalisation instead of BatchNorm, with the hinge loss, so both "
    "can learn fast (Adam: D 2e-3, G 1e-3, decaying to a tenth).",
    TrainConfig(dataset="digits16", family="dcgan",
                model=_dcgan(16, 1, 32, 32, n_cat=10, spectral_norm=True, d_batchnorm=False), loss="hinge",
                lr_d=2e-3, lr_g=1e-3, beta1=0.0, beta2=0.9, lr_final=0.1, batch_size=64, g_ema=0.999,
                steps=7500, eval_every=500, eval_samples=1000, held_out=0.15), kind="image"))

register(Preset(
    "digits-conditional", "Digits (conditional)",
    "A conditional GAN: G gets the class as a one-hot vector beside z, D sees it as extra input planes. "
    "Each row of the grid asks for one digit; the classifier checks that G draws what was asked.",
    TrainConfig(dataset="digits16", family="dcgan", model=_dcgan(16, 1, 32, 32, n_classes=10),
                loss="nonsaturating", lr_d=2e-4, lr_g=2e-4, beta1=0.5, batch_size=64, g_ema=0.999,
                steps=6000, eval_every=500, eval_samples=1000), kind="image"))

register(Preset(
    "digits-collapse", "Digits: mode collapse",
    "The digits GAN without BatchNorm (which, in D, lets it compare the samples of a batch) and with a "
    "small discriminator (6 channels) against a generator that learns 7.5 times faster: G finds a few "
    "digits that fool D and piles its samples onto them. The class histogram empties to a few bars, "
    "sometimes to one, then the favourites change, and it may fill again for a while: over seeds 0-4 it "
    "fell to 3 classes or fewer at least once after step 750 in every run, at different steps. The page "
    "pauses at step 4,000, the demo's length. Compare with Digits (DCGAN).",
    TrainConfig(dataset="digits16", family="dcgan",
                model=_dcgan(16, 1, 32, 32, d_base=6, g_batchnorm=False, d_batchnorm=False),
                loss="nonsaturating", lr_d=2e-4, lr_g=1.5e-3, beta1=0.5, batch_size=64, steps=4000,
                eval_every=250, eval_samples=1000), kind="image",
    promise=Promise("classes_covered", high=3, when="any", after=750,
                    text="the class histogram falls to 3 classes or fewer (counted confidently) at least once")))

register(Preset(
    "shapes-dcgan", "Shapes",
    "Coloured sprites (square, circle, triangle, heart) with known shape, size, rotation, position and "
    "colour: the ground-truth factors that InfoGAN and style mixing are measured against.",
    TrainConfig(dataset="shapes", family="dcgan", model=_dcgan(32, 3, 64, 32), loss="nonsaturating",
                lr_d=2e-4, lr_g=2e-4, beta1=0.5, batch_size=64, g_ema=0.999, steps=6000, eval_every=1000,
                eval_samples=1000), kind="image"))

register(Preset(
    "scenes-dcgan", "Scenes",
    "Little landscapes (sky, clouds, sun, mountains, grass, water, trees, a house) with a per-pixel class "
    "mask: a segmenter reads the generated scenes, so one can see which things the GAN under- or "
    "over-draws, and later which units draw them. D uses spectral normalisation instead of BatchNorm, "
    "with the hinge loss, so both can learn fast (Adam: D 2e-3, G 1e-3, decaying to a tenth).",
    TrainConfig(dataset="scenes", family="dcgan",
                model=_dcgan(32, 3, 64, 32, spectral_norm=True, d_batchnorm=False), loss="hinge",
                lr_d=2e-3, lr_g=1e-3, beta1=0.0, beta2=0.9, lr_final=0.1, batch_size=64, g_ema=0.999,
                steps=8000, eval_every=1000, eval_samples=1000), kind="image"))

# InfoGAN preset (Chen et al. 2016): the SN-GAN recipe of digits-dcgan with a categorical code and two
# continuous codes; Q is a Gaussian with learned mean and log-variance for each continuous code. Q also
# sorts the real digits into its categories (losses.cluster_loss), reading the same category when a digit
# moves, tilts or grows a little (cluster_views): docs/figures.md has the comparison.
register(Preset(
    "digits-infogan", "Digits (InfoGAN codes)",
    "InfoGAN on the digits, without labels: G's latent ends in a 10-way category and two continuous codes "
    "in [-1, 1], and a head Q on D (a Gaussian with learned variance for each continuous code) learns to "
    "read them back from the image while G is rewarded when it can. Q also sorts the real digits into its "
    "ten categories, each image surely into one and every category as often, and must read the same "
    "category when the digit moves by a pixel, turns by a few degrees or grows a little: so the "
    "categories G draws are the groups the real digits fall into, whatever their slant and size. "
    "Nobody says what a code means; turn them on the Code knobs tab and see what each one took (in the "
    "InfoGAN paper: the digit, the slant and the stroke width). The plot of the information bound "
    "climbs toward its ceiling ln 10 as the categories become readable. The recipe of Digits (DCGAN): "
    "spectral normalisation in D with the hinge loss (Adam: D 2e-3, G 1e-3, decaying to a tenth).",
    TrainConfig(dataset="digits16", family="dcgan",
                model=_dcgan(16, 1, 32, 32, n_cat=10, n_cont=2, spectral_norm=True, d_batchnorm=False),
                loss="hinge", lr_d=2e-3, lr_g=1e-3, beta1=0.0, beta2=0.9, lr_final=0.1, batch_size=64,
                g_ema=0.999, steps=15000, eval_every=500, eval_samples=1000, held_out=0.15, lambda_cat=1.0,
                lambda_cont=0.1, lambda_cluster=1.0, lambda_shift=3.0, cluster_views="shift+tilt+zoom"),
    kind="image"))

DEFAULT_2D = "stable-ring"
DEFAULT_IMAGE = "digits-dcgan"


def preset_for(cfg: TrainConfig, kind: str | None = None) -> Preset | None:
    """The preset (of `kind`, when given) a config was most likely made from: among presets with its data
    and networks (training settings may have been changed along the way), the one sharing most settings
    (the loss, say, tells the ring presets apart); None when no preset has its data and networks."""
    same = [p for p in PRESETS.values() if (kind is None or p.kind == kind)
            and (p.config.dataset, p.config.family, p.config.model) == (cfg.dataset, cfg.family, cfg.model)]
    if not same:
        return None
    want = cfg.to_dict()
    return max(same, key=lambda p: sum(v == want.get(k) for k, v in p.config.to_dict().items()
                                       if k != "seed"))


def get(name: str) -> Preset:
    if name not in PRESETS:
        raise KeyError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}")
    return PRESETS[name]


# Style-based presets (models/style.py): a mapping network, styles at every layer, per-pixel noise, mixing
# regularisation; D is the DCGAN discriminator with spectral normalisation (the SN-GAN recipe above).
def _style(size: int = 32, channels: int = 3, g_base: int = 8, **kw) -> dict:
    return {"image_size": size, "channels": channels, "g_base": g_base, **kw}


register(Preset(
    "shapes-style", "Shapes (style-based)",
    "A small StyleGAN: a mapping network turns z into w, and w sets the styles of every layer of a "
    "synthesis network that starts from a learned constant 4x4 map; per-pixel noise adds randomness. Because "
    "training mixes two latents' styles at a random layer, each layer's style learns its own job: in the "
    "shipped model the coarse styles (4x4, 8x8) set the sprite's place and most often its shape, and the "
    "fine ones (32x32) its colour: only the last layer turns features into RGB, so its style decides the "
    "colours. Noise enters only at 32x32, so it adds detail without moving, reshaping or recolouring the "
    "sprite. Try the Style mixing tab.",
    TrainConfig(dataset="shapes", family="style", model=_style(32, 3, noise_min_res=32, architecture="orig"),
                loss="hinge",
                lr_d=2e-3, lr_g=2e-3, beta1=0.0, beta2=0.99, lr_final=0.1, batch_size=32, g_ema=0.999,
                steps=14000, eval_every=800, eval_samples=1000), kind="image"))

register(Preset(
    "scenes-style", "Scenes (style-based)",
    "The small StyleGAN of Shapes (style-based) on the little landscapes: mix two scenes' coarse styles "
    "(the layout: horizon, mountains) with another's fine styles (the colours of sky, grass and water).",
    TrainConfig(dataset="scenes", family="style", model=_style(32, 3, noise_min_res=16, architecture="orig"),
                loss="hinge",
                lr_d=2e-3, lr_g=2e-3, beta1=0.0, beta2=0.99, lr_final=0.1, batch_size=32, g_ema=0.999,
                steps=12000, eval_every=800, eval_samples=1000), kind="image"))
