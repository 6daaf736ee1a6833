"""The formula view: the loss in force written out in LaTeX with the last logged step's numbers plugged in
(`formula_markdown`), and G's loss against D(G(z)) for the minimax, non-saturating and least-squares
losses with the current fakes marked (`gcurve_picture`): the vanishing-gradient picture. The minimax
loss log(1 - D(G(z))) is flat where D rejects the fakes (D(G(z)) near 0), the non-saturating -log D(G(z))
is steep there; the caption gives the measured size of G's gradient under the loss in force and under the
non-saturating loss on the same fakes. (With Adam a small gradient still moves the fakes, since Adam
divides each step by the gradient's recent size; the curve and the measured sizes are where the vanishing
gradient shows.)
"""

from __future__ import annotations

import math

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .. import losses
from ..training.slowmo import LOSS_WORDS, PROBABILITY_LOSSES, num

LATEX_DELIMITERS = [
    {"left": "$$", "right": "$$", "display": True},
    {"left": "$", "right": "$", "display": False},
]
_DR, _DF = r"D(x_i)", r"D(G(z_i))"
_MEAN = r"\frac{1}{n}\sum_{i=1}^{n}"
D_LATEX = {
    "minimax": rf"L_D = -{_MEAN}\log {_DR} \;-\; {_MEAN}\log\bigl(1 - {_DF}\bigr)",
    "nonsaturating": rf"L_D = -{_MEAN}\log {_DR} \;-\; {_MEAN}\log\bigl(1 - {_DF}\bigr)",
    "lsgan": rf"L_D = \tfrac{{1}}{{2}}{_MEAN}\bigl({_DR} - 1\bigr)^2 + \tfrac{{1}}{{2}}{_MEAN}{_DF}^2",
    "wgan": rf"L_D = {_MEAN}{_DF} \;-\; {_MEAN}{_DR}",
    "wgan-gp": rf"L_D = {_MEAN}{_DF} \;-\; {_MEAN}{_DR} \;+\; \lambda\,{_MEAN}\bigl(\lVert\nabla_{{\hat x}}"
    rf"D(\hat x_i)\rVert_2 - 1\bigr)^2",
    "hinge": rf"L_D = {_MEAN}\max\bigl(0, 1 - {_DR}\bigr) + {_MEAN}\max\bigl(0, 1 + {_DF}\bigr)",
}
G_LATEX = {
    "minimax": rf"L_G = {_MEAN}\log\bigl(1 - {_DF}\bigr)",
    "nonsaturating": rf"L_G = -{_MEAN}\log {_DF}",
    "lsgan": rf"L_G = \tfrac{{1}}{{2}}{_MEAN}\bigl({_DF} - 1\bigr)^2",
    "wgan": rf"L_G = -{_MEAN}{_DF}",
    "wgan-gp": rf"L_G = -{_MEAN}{_DF}",
    "hinge": rf"L_G = -{_MEAN}{_DF}",
}
WHAT_D_IS = {
    "minimax": r"$D(x) = \sigma(\text{logit})$ is D's probability that $x$ is real.",
    "nonsaturating": r"$D(x) = \sigma(\text{logit})$ is D's probability that $x$ is real.",
    "lsgan": r"$D(x)$ is D's score (targets: 1 for real, 0 for fake).",
    "wgan": r"$D(x)$ is the critic's score (no upper bound); its weights are clipped to $\pm 0.01$.",
    "wgan-gp": r"$D(x)$ is the critic's score (no upper bound); $\hat x$ lies between a real and a fake "
    r"point, $\lambda = 10$.",
    "hinge": r"$D(x)$ is the critic's score (no upper bound).",
}


def _n(v) -> str:
    """A number for LaTeX (a minus sign, not a hyphen)."""
    return num(float(v)) if v is not None else "?"


def last_loss_row(rows) -> dict | None:
    """The last logged row with both losses (None before the first)."""
    for r in reversed(list(rows)):
        if "d_loss" in r and "g_loss" in r:
            return r
    return None


def formula_markdown(loss: str, rows) -> str:
    """Markdown (with $$ LaTeX) of the loss in force, with the numbers of the last logged step."""
    losses.check(loss)
    row = last_loss_row(rows)
    head = f"**The loss in force: {LOSS_WORDS[loss]}.** {WHAT_D_IS[loss]}"
    if row is None:
        return "\n\n".join(
            [
                head,
                f"$${D_LATEX[loss]}$$",
                f"$${G_LATEX[loss]}$$",
                "The numbers appear with the first training step.",
            ]
        )
    dl, gl, r, f = row["d_loss"], row["g_loss"], row.get("d_real"), row.get("d_fake")
    if loss == "wgan" and r is not None and f is not None:
        d_eq = rf"{D_LATEX[loss]} = {_n(f)} - ({_n(r)}) = \mathbf{{{_n(dl)}}}"
    elif loss == "wgan-gp" and r is not None and f is not None:
        d_eq = rf"{D_LATEX[loss]} = {_n(f)} - ({_n(r)}) + \text{{penalty}}"
    else:
        d_eq = rf"{D_LATEX[loss]} = \mathbf{{{_n(dl)}}}"
    g_eq = rf"{G_LATEX[loss]} = \mathbf{{{_n(gl)}}}"
    if loss == "wgan-gp":
        note = (
            f"Step {row['step']:,}: D's loss without the penalty is **{num(dl)}** (the logged value), "
            f"G's loss **{num(gl)}**."
        )
    elif loss in PROBABILITY_LOSSES and r is not None and f is not None:
        note = (
            f"Step {row['step']:,}: D's loss **{num(dl)}**, G's loss **{num(gl)}**. D's mean logit on the "
            f"real points {num(r)}, on the fakes {num(f)} (σ of those: {_sigmoid(r):.3f} and "
            f"{_sigmoid(f):.3f})."
        )
    else:
        extra = (
            f" D's mean value on the real points {num(r)}, on the fakes {num(f)}." if r is not None else ""
        )
        note = f"Step {row['step']:,}: D's loss **{num(dl)}**, G's loss **{num(gl)}**.{extra}"
    return "\n\n".join([head, f"$${d_eq}$$", f"$${g_eq}$$", note])


def _sigmoid(v: float) -> float:
    return 1.0 / (1.0 + math.exp(-v)) if v > -700 else 0.0


# ----- G's loss against D(G(z)) -----------------------------------------------------------------------------
CURVES = {  # loss -> (label, G's loss as a function of p = D(G(z)) in (0, 1))
    "minimax": ("minimax: log(1 − D(G(z)))  (saturates)", lambda p: np.log1p(-p)),
    "nonsaturating": ("non-saturating: −log D(G(z))", lambda p: -np.log(p)),
    "lsgan": ("least squares: ½ (D(G(z)) − 1)²  (D's score)", lambda p: 0.5 * (p - 1) ** 2),
}
CURVE_COLORS = {"minimax": "#d62728", "nonsaturating": "#1f77b4", "lsgan": "#7f7f7f"}


def gcurve_caption(loss: str, grad_norm: float, grad_norm_ns: float, fake_values=None) -> str:
    """The picture's caption: where the fakes sit and the measured size of G's gradient, beside the
    non-saturating loss's on the same fakes."""
    words = LOSS_WORDS[loss]
    parts = []
    if fake_values is not None and len(fake_values) and loss in CURVES:
        m = float(np.mean(fake_values))
        parts.append(f"Fakes: mean D(G(z)) = {m:.3f}.")
    if math.isfinite(grad_norm) and math.isfinite(grad_norm_ns):
        if loss == "nonsaturating":
            parts.append(f"Size of G's gradient: {grad_norm:.3g}.")
        else:
            ratio = grad_norm_ns / grad_norm if grad_norm > 0 else float("inf")
            parts.append(
                f"Size of G's gradient under {words}: {grad_norm:.3g}; under the non-saturating loss "
                f"on the same fakes: {grad_norm_ns:.3g} ({ratio:.3g}x)."
            )
    if loss not in CURVES:
        parts.append(
            "This loss uses the critic's raw score, not a probability: G's loss −D(G(z)) is a straight "
            "line in it, so its gradient does not vanish; the fakes are not marked."
        )
    return " ".join(parts)


def gcurve_picture(
    loss: str,
    fake_values=None,
    grad_norm: float = float("nan"),
    grad_norm_ns: float = float("nan"),
    width: int = 560,
    height: int = 340,
) -> np.ndarray:
    """(H, W, 3) uint8: G's loss against D(G(z)) for the three G losses above (the one in force drawn
    thick), the fakes' D(G(z)) marked on the curve in force, the caption's facts written below."""
    losses.check(loss)
    p = np.linspace(1e-3, 1 - 1e-3, 400)
    fig = Figure(figsize=(width / 100, height / 100), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    for name, (label, fn) in CURVES.items():
        on = name == loss
        ax.plot(
            p,
            fn(p),
            color=CURVE_COLORS[name],
            lw=3 if on else 1.4,
            ls="-" if name != "lsgan" else "--",
            label=label + ("  ← in force" if on else ""),
            alpha=1 if on or loss not in CURVES else 0.6,
        )
    if fake_values is not None and loss in CURVES and len(fake_values):
        v = np.clip(np.asarray(fake_values, np.float64), 1e-3, 1 - 1e-3)
        fn = CURVES[loss][1]
        ax.scatter(v, fn(v), s=12, color="#762a83", zorder=5, alpha=0.7, label="the fakes now")
        m = float(np.mean(v))
        ax.axvline(m, color="#762a83", lw=1, ls=":")
    ax.set_xlim(0, 1)
    ax.set_ylim(-4, 4)
    ax.axhline(0, color="#bbb", lw=0.8)
    ax.set_xlabel("D(G(z)): D's verdict on a fake (0 = rejected, 1 = fooled)", fontsize=9)
    ax.set_ylabel("G's loss", fontsize=9)
    ax.legend(fontsize=7.5, loc="lower left", framealpha=0.9)
    ax.tick_params(labelsize=8)
    caption = gcurve_caption(loss, grad_norm, grad_norm_ns, fake_values)
    title = "G's loss against D's verdict on its fakes"
    ax.set_title(title + ("\n" + _wrap(caption, 88) if caption else ""), fontsize=8)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def _wrap(text: str, width: int) -> str:
    words, lines, line = text.split(), [], ""
    for w in words:
        if line and len(line) + 1 + len(w) > width:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}".strip()
    return "\n".join(lines + [line])


def g_gradient_sizes(G, D, z: torch.Tensor, loss: str) -> tuple[float, float, np.ndarray]:
    """Measured on copies of the networks: the size (L2 norm) of G's weight gradient under `loss` and
    under the non-saturating loss for the fakes G(z), and D's values on those fakes as shown (probabilities
    for the logistic losses, scores else)."""
    params = [q for q in G.parameters() if q.requires_grad]
    with torch.enable_grad():
        logits = D(G(z))
        sizes = []
        for name in (loss, "nonsaturating"):
            grads = torch.autograd.grad(
                losses.g_loss(name, logits), params, retain_graph=True, allow_unused=True
            )
            sizes.append(math.sqrt(sum(float(g.pow(2).sum()) for g in grads if g is not None)))
    shown = torch.sigmoid(logits) if loss in PROBABILITY_LOSSES else logits
    return sizes[0], sizes[1], shown.detach().reshape(-1).numpy()
