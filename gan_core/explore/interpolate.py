"""Walking through latent space: spherical and linear interpolation through key latents, the DCGAN
paper's latent arithmetic, and the pictures and animations they make (PNG, GIF)."""

from __future__ import annotations

import io

import numpy as np
import torch

def slerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical interpolation from a (t=0) to b (t=1), exactly a and b at the ends (White 2016)."""
    if t <= 0:
        return a.clone()
    if t >= 1:
        return b.clone()
    na, nb = a.norm(), b.norm()
    if na == 0 or nb == 0:
        return torch.lerp(a, b, t)
    cos = torch.clamp((a @ b) / (na * nb), -1.0, 1.0)
    omega = torch.arccos(cos)
    if omega.abs() < 1e-4:
        return torch.lerp(a, b, t)
    so = torch.sin(omega)
    return torch.sin((1 - t) * omega) / so * a + torch.sin(t * omega) / so * b


def lerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    if t <= 0:
        return a.clone()
    if t >= 1:
        return b.clone()
    return torch.lerp(a, b, t)


def interpolate(keys: torch.Tensor, frames: int, mode: str = "slerp") -> torch.Tensor:
    """`frames` latents passing through every key latent (M, z_dim) in order; the first frame is keys[0],
    the last keys[-1], and every key is one of the frames (exactly), frames spread evenly per segment."""
    if mode not in ("slerp", "lerp"):
        raise ValueError(f"mode must be 'slerp' or 'lerp', got {mode!r}")
    m = len(keys)
    if m < 2:
        raise ValueError("interpolation needs at least two latents")
    if frames < m:
        raise ValueError(f"{frames} frames cannot pass through {m} latents")
    f = slerp if mode == "slerp" else lerp
    per = np.diff(np.round(np.linspace(0, frames - 1, m)).astype(int))  # frames per segment, sum = frames - 1
    out = []
    for i, n in enumerate(per):
        out += [f(keys[i], keys[i + 1], j / n) for j in range(n)]
    out.append(keys[-1].clone())
    return torch.stack(out)


def arithmetic(model, a_seeds, b_seeds, c_seeds) -> dict:
    """The DCGAN paper's vector arithmetic: mean(A) - mean(B) + mean(C), each term the mean latent of a
    few seeds. Returns the term means, the result latent and the seeds' latents."""
    terms = {}
    for name, seeds in (("a", a_seeds), ("b", b_seeds), ("c", c_seeds)):
        if not len(seeds):
            raise ValueError(f"term {name.upper()} needs at least one seed")
        terms[name] = model.latents(seeds)
    means = {k: v.mean(0) for k, v in terms.items()}
    return {"latents": terms, "means": means, "result": means["a"] - means["b"] + means["c"]}


def png_bytes(picture: np.ndarray, compress: int = 1) -> bytes:
    """A uint8 (H, W) or (H, W, 3) picture as PNG bytes (fast compression: pictures are small)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(picture).save(buf, format="PNG", compress_level=compress)
    return buf.getvalue()


def gif_bytes(frames: list[np.ndarray], fps: float = 12.0, loop: bool = True) -> bytes:
    """An animated GIF of uint8 (H, W, 3) frames; durations in whole milliseconds as GIF stores them."""
    from PIL import Image

    if not frames:
        raise ValueError("a GIF needs at least one frame")
    images = [Image.fromarray(f) for f in frames]
    buf = io.BytesIO()
    images[0].save(buf, format="GIF", save_all=True, append_images=images[1:],
                   duration=max(20, int(round(1000 / fps))), loop=0 if loop else 1, disposal=1)
    return buf.getvalue()
