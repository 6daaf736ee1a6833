"""Adversarial losses as small pure functions of the discriminator's logits.

- minimax: the original GAN (Goodfellow et al. 2014); G minimises log(1 - D(G(z))), which saturates.
- nonsaturating: G minimises -log D(G(z)) instead (same paper's practical variant).
- lsgan: least squares (Mao et al. 2017), a=0, b=c=1, with the 1/2 factors.
- wgan: Wasserstein critic with weight clipping (Arjovsky et al. 2017).
- wgan-gp: Wasserstein with gradient penalty, lambda 10 (Gulrajani et al. 2017).
- hinge: hinge loss (Lim & Ye 2017; Miyato et al. 2018).

`d_grads`/`g_grads` give the same losses' gradients with respect to the logits in closed form; the fused
MLP engine uses them instead of autograd, and tests check them against autograd.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

LOSSES = ("minimax", "nonsaturating", "lsgan", "wgan", "wgan-gp", "hinge")
GP_LAMBDA = 10.0
WGAN_CLIP = 0.01


def check(name: str) -> str:
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; choose one of {', '.join(LOSSES)}")
    return name


def d_loss(name: str, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Discriminator loss from logits on real and fake samples (any shapes)."""
    if name in ("minimax", "nonsaturating"):
        return F.softplus(-real).mean() + F.softplus(fake).mean()
    if name == "lsgan":
        return 0.5 * ((real - 1) ** 2).mean() + 0.5 * (fake**2).mean()
    if name in ("wgan", "wgan-gp"):
        return fake.mean() - real.mean()
    if name == "hinge":
        return F.relu(1 - real).mean() + F.relu(1 + fake).mean()
    raise ValueError(f"unknown loss {name!r}")


def g_loss(name: str, fake: torch.Tensor) -> torch.Tensor:
    """Generator loss from the discriminator's logits on fake samples."""
    if name == "minimax":
        return -F.softplus(fake).mean()  # = mean(log(1 - sigmoid(fake)))
    if name == "nonsaturating":
        return F.softplus(-fake).mean()  # = -mean(log sigmoid(fake))
    if name == "lsgan":
        return 0.5 * ((fake - 1) ** 2).mean()
    if name in ("wgan", "wgan-gp", "hinge"):
        return -fake.mean()
    raise ValueError(f"unknown loss {name!r}")


INFO_CONT_WEIGHT = 0.5  # continuous codes: the Gaussian negative log-likelihood has 0.5 * squared error / variance
# Q's log-variance for a continuous code is clamped to this range (its gradient is zero outside): a Q that
# grows too sure of a code would otherwise send G gradients that grow without bound
LOGVAR_MIN, LOGVAR_MAX = -4.0, 4.0


def info_loss(q: torch.Tensor, cat: torch.Tensor | None, cont: torch.Tensor | None, lambda_cat: float = 1.0,
              lambda_cont: float = 1.0) -> torch.Tensor:
    """InfoGAN's mutual-information term, to minimise: lambda_cat x the cross-entropy of Q's categorical
    logits against the drawn category plus lambda_cont x the Gaussian negative log-likelihood of the drawn
    continuous codes under Q's mean and log-variance, summed over codes, without its constant
    0.5 ln(2 pi): 0.5 logvar + 0.5 (c - mean)^2 / exp(logvar). q: (n, n_cat + 2 n_cont), laid out as
    [category logits, continuous means, continuous log-variances]."""
    n_cont = 0 if cont is None else cont.shape[1]
    n_cat = 0 if cat is None else q.shape[1] - 2 * n_cont
    loss = q.new_zeros(())
    if cat is not None:
        loss = loss + lambda_cat * F.cross_entropy(q[:, :n_cat], cat)
    if cont is not None:
        mean = q[:, n_cat:n_cat + n_cont]
        logvar = q[:, n_cat + n_cont:].clamp(LOGVAR_MIN, LOGVAR_MAX)
        nll = 0.5 * logvar + INFO_CONT_WEIGHT * (cont - mean) ** 2 * torch.exp(-logvar)
        loss = loss + lambda_cont * nll.sum(1).mean()
    return loss


TILT_DEG = 15.0  # the "tilt" view turns each image about its centre by up to this many degrees either way
ZOOM = 1.25  # the "zoom" view scales each image about its centre by a factor in [1 / ZOOM, ZOOM]
SHIFT_PX = 1  # the real-image clustering's shifted copy moves by up to this many pixels in x and y
CLUSTER_BALANCE = 2.0  # weight of H(Y), every category used as often, against H(Y|X) in `cluster_loss`


def shifted(x: torch.Tensor, gen: torch.Generator | None = None) -> torch.Tensor:
    """Images (B, C, H, W) rolled by one random offset (dy, dx) in [-SHIFT_PX, SHIFT_PX]^2 for the batch
    (a pixel leaving one side comes back on the other: the built-in sets have a plain border there)."""
    dy, dx = torch.randint(-SHIFT_PX, SHIFT_PX + 1, (2,), generator=gen).tolist()
    return torch.roll(x, (dy, dx), (2, 3))


VIEWS = ("shift", "turn", "tilt", "zoom", "colour")  # what may differ between Q's two readings of an image


def check_views(views: str) -> tuple[str, ...]:
    """The parts of a `TrainConfig.cluster_views` string ("shift", "shift+turn", ...), or a ValueError."""
    parts = tuple(views.split("+")) if isinstance(views, str) and views else ()
    if not parts or any(v not in VIEWS for v in parts) or len(set(parts)) != len(parts):
        raise ValueError(f"cluster_views must join distinct parts of {', '.join(VIEWS)} with '+', "
                         f"got {str(views)[:40]!r}")
    return parts


def other_view(x: torch.Tensor, views: str = "shift", gen: torch.Generator | None = None) -> torch.Tensor:
    """The real batch (B, C, H, W) as Q's second reading sees it (`views`, see `check_views`): "shift"
    rolls the batch by up to SHIFT_PX pixels (`shifted`); "turn" turns each image by a random multiple
    of 90 degrees and mirrors half of them (the built-in shapes come in every rotation); "tilt" turns
    each about the centre by up to TILT_DEG degrees and "zoom" scales it by up to ZOOM (one bilinear
    resampling for both, the border repeated); "colour" permutes each RGB image's channels at random
    (takes each of the shapes' palette colours near another: red, green and blue among themselves,
    yellow, magenta and cyan likewise)."""
    parts = check_views(views)
    if "shift" in parts:
        x = shifted(x, gen)
    if "turn" in parts:
        k = torch.randint(0, 8, (len(x),), generator=gen)
        x = x.clone()
        for r in range(8):
            m = k == r
            if m.any():
                y = torch.rot90(x[m], r % 4, (2, 3))
                x[m] = torch.flip(y, (3,)) if r >= 4 else y
    if "tilt" in parts or "zoom" in parts:
        n = len(x)
        a, s = torch.zeros(n), torch.ones(n)
        if "tilt" in parts:
            a = (torch.rand(n, generator=gen) * 2 - 1) * math.radians(TILT_DEG)
        if "zoom" in parts:
            s = torch.exp((torch.rand(n, generator=gen) * 2 - 1) * math.log(ZOOM))  # in [1 / ZOOM, ZOOM]
        theta = torch.zeros(n, 2, 3, dtype=x.dtype)  # output -> input coordinates: turned by -a, 1/s
        theta[:, 0, 0], theta[:, 0, 1] = torch.cos(a) / s, -torch.sin(a) / s
        theta[:, 1, 0], theta[:, 1, 1] = torch.sin(a) / s, torch.cos(a) / s
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    if "colour" in parts and x.shape[1] == 3:
        perm = torch.rand((len(x), 3), generator=gen).argsort(1)  # (B, 3)
        x = x.gather(1, perm[:, :, None, None].expand_as(x))
    return x


def cluster_loss(logits: torch.Tensor, logits_shifted: torch.Tensor | None, lambda_cluster: float = 1.0,
                 lambda_shift: float = 1.0) -> torch.Tensor:
    """Q's categorical code read on real images, to minimise (RIM, Krause et al. 2010, with IMSAT's
    self-augmentation, Hu et al. 2017): lambda_cluster x (H(Y|X) - CLUSTER_BALANCE x H(Y)), where Y is
    the category Q reads in a real image X (with equal weights, minus their mutual information: each
    image sure of one category, every category used as often), plus lambda_shift x KL(p(Y|X) || p(Y|X
    shifted)) with p(Y|X) held fixed: the category must not change when the image moves by a pixel.
    H(Y) weighs more than H(Y|X): with equal weights a few categories could merge look-alike digits
    while others split one (docs/figures.md). logits: (n, n_cat) on real images; logits_shifted: the
    same images shifted (`shifted`), or None."""
    logp = torch.log_softmax(logits, 1)
    p = logp.exp()
    cond = -(p * logp).sum(1).mean()
    marginal = p.mean(0)
    loss = lambda_cluster * (cond + CLUSTER_BALANCE * (marginal * torch.log(marginal + 1e-8)).sum())
    if logits_shifted is not None:
        kl = (p.detach() * (logp.detach() - torch.log_softmax(logits_shifted, 1))).sum(1).mean()
        loss = loss + lambda_shift * kl
    return loss


def cluster_grads(logits: torch.Tensor, logits_shifted: torch.Tensor | None, lambda_cluster: float = 1.0,
                  lambda_shift: float = 1.0) -> tuple[torch.Tensor, torch.Tensor | None]:
    """`cluster_loss`'s gradients with respect to its two logit tensors (the second None when it is)."""
    leaves = [logits.detach().requires_grad_(True)]
    if logits_shifted is not None:
        leaves.append(logits_shifted.detach().requires_grad_(True))
    with torch.enable_grad():
        loss = cluster_loss(leaves[0], leaves[1] if len(leaves) == 2 else None, lambda_cluster, lambda_shift)
        grads = torch.autograd.grad(loss, leaves)
    return grads[0], (grads[1] if len(grads) == 2 else None)


def d_grads(name: str, real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """d(d_loss)/d(real), d(d_loss)/d(fake), for logits of shape (n, 1)."""
    nr, nf = real.numel(), fake.numel()
    if name in ("minimax", "nonsaturating"):
        return torch.sigmoid(-real).mul_(-1.0 / nr), torch.sigmoid(fake).mul_(1.0 / nf)
    if name == "lsgan":
        return (real - 1).mul_(1.0 / nr), fake * (1.0 / nf)
    if name in ("wgan", "wgan-gp"):
        return torch.full_like(real, -1.0 / nr), torch.full_like(fake, 1.0 / nf)
    if name == "hinge":
        return (real < 1).to(real.dtype).mul_(-1.0 / nr), (fake > -1).to(fake.dtype).mul_(1.0 / nf)
    raise ValueError(f"unknown loss {name!r}")


def g_grads(name: str, fake: torch.Tensor) -> torch.Tensor:
    """d(g_loss)/d(fake logits)."""
    n = fake.numel()
    if name == "minimax":
        return torch.sigmoid(fake).mul_(-1.0 / n)
    if name == "nonsaturating":
        return torch.sigmoid(-fake).mul_(-1.0 / n)
    if name == "lsgan":
        return (fake - 1).mul_(1.0 / n)
    if name in ("wgan", "wgan-gp", "hinge"):
        return torch.full_like(fake, -1.0 / n)
    raise ValueError(f"unknown loss {name!r}")


def gradient_penalty(d, real: torch.Tensor, fake: torch.Tensor, gen: torch.Generator | None = None,
                     weight: float = GP_LAMBDA) -> torch.Tensor:
    """WGAN-GP: weight * E[(||grad_x D(x_hat)||_2 - 1)^2] on random interpolates of real and fake."""
    shape = (real.shape[0],) + (1,) * (real.dim() - 1)
    eps = torch.rand(shape, generator=gen).to(real.device)
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    out = d(x_hat)
    (grad,) = torch.autograd.grad(out.sum(), x_hat, create_graph=True)
    if getattr(d, "pack", 1) > 1:
        grad = grad.reshape(out.shape[0], -1)
    norms = grad.flatten(1).norm(dim=1)
    return weight * ((norms - 1) ** 2).mean()


def r1_penalty(d, real: torch.Tensor, c: torch.Tensor | None = None, gamma: float = 1.0) -> torch.Tensor:
    """R1 (Mescheder et al. 2018): gamma / 2 * E[||grad_x D(x)||^2] on real samples x, so D stays flat on the
    data and its gradient cannot push G past it (packed D: one norm per packed sample)."""
    x = real.detach().requires_grad_(True)
    out = d(x) if c is None else d(x, c)
    (grad,) = torch.autograd.grad(out.sum(), x, create_graph=True)
    return 0.5 * gamma * grad.reshape(out.shape[0], -1).square().sum(1).mean()


PL_DECAY = 0.01  # path-length regularisation: the running mean of the lengths moves this far per update


def path_lengths(g, ws: torch.Tensor, gen: torch.Generator | None = None) -> torch.Tensor:
    """StyleGAN2's path lengths ||J_w^T y|| per sample, with J the Jacobian of the style-based generator's
    synthesis at ws and y an image of Gaussian noise scaled by 1 / sqrt(pixels), drawn from `gen`;
    differentiable in G's weights."""
    ws = ws if ws.requires_grad else ws.detach().requires_grad_(True)
    img = g.synthesis(ws, "random" if g.training else "const")
    y = torch.randn(img.shape, generator=gen).to(img) / math.sqrt(img.shape[2] * img.shape[3])
    (grad,) = torch.autograd.grad((img * y).sum(), ws, create_graph=True)
    return grad.square().sum(2).mean(1).sqrt()
