"""Sample diversity as mean multi-scale SSIM over random pairs (Wang et al. 2003; used for GAN samples by
Odena et al. 2017): the lower the mean MS-SSIM of pairs of generated images, the more diverse the set.
Compare the figure with the same one on real data.

Each pair is compared with scikit-image's `structural_similarity` (7x7 uniform window, data range 2 for
images in [-1, 1]) at the full size and after each 2x2 average-pool downsampling while the side stays
>= 7 px, at most 5 scales. The per-scale SSIMs (clipped at 0) are combined as a weighted geometric mean
with Wang et al.'s 5-scale weights, truncated to the scales available and renormalised to sum to 1.
(This uses the full SSIM at every scale where Wang et al. use only the contrast-structure term below the
coarsest scale: a common simplification that keeps identical images at exactly 1.)
"""

from __future__ import annotations

import numpy as np
import torch
from skimage.metrics import structural_similarity

MS_SSIM = "ms_ssim"
WANG_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)  # finest to coarsest
WIN = 7  # SSIM window side; a scale is used while the image side is >= this


def _half(x: np.ndarray) -> np.ndarray:
    """2x2 average pooling of (C, H, W) (an odd last row/column is dropped)."""
    c, h, w = x.shape
    x = x[:, : h - h % 2, : w - w % 2]
    return x.reshape(c, h // 2, 2, w // 2, 2).mean(axis=(2, 4))


def ms_ssim(a: np.ndarray, b: np.ndarray, data_range: float = 2.0) -> float:
    """MS-SSIM of two images (C, H, W) as defined in the module docstring; 1.0 for identical images."""
    if a.shape != b.shape or a.ndim != 3 or min(a.shape[1:]) < WIN:
        raise ValueError(f"need two (C, H, W) images of the same shape with sides >= {WIN}, got "
                         f"{a.shape} and {b.shape}")
    scores = []
    while True:
        s = structural_similarity(a, b, win_size=WIN, data_range=data_range, channel_axis=0)
        scores.append(max(float(s), 0.0))
        if len(scores) == len(WANG_WEIGHTS) or min(a.shape[1:]) // 2 < WIN:
            break
        a, b = _half(a), _half(b)
    w = np.array(WANG_WEIGHTS[: len(scores)])
    return float(np.prod(np.power(scores, w / w.sum())))


def ms_ssim_diversity(images: torch.Tensor | np.ndarray, pairs: int = 200, seed: int = 0) -> float:
    """Mean MS-SSIM over `pairs` random pairs of distinct images from (N, C, H, W) in [-1, 1], N >= 2."""
    x = torch.as_tensor(images).detach().to("cpu", torch.float64).numpy()
    if x.ndim != 4 or len(x) < 2:
        raise ValueError(f"need at least 2 images (N, C, H, W), got shape {x.shape}")
    rng = np.random.default_rng(seed)
    i = rng.integers(0, len(x), pairs)
    j = (i + rng.integers(1, len(x), pairs)) % len(x)  # never the same image twice
    return float(np.mean([ms_ssim(x[p], x[q]) for p, q in zip(i, j)]))
