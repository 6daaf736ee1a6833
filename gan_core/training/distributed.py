"""Training on several processes: `torchrun --nproc_per_node=N -m gan_core train --preset P --ddp`.

Each process (rank) holds the same G and D, wrapped in `torch.nn.parallel.DistributedDataParallel`
(gloo on CPU, NCCL on CUDA), and trains on its own part of the data: a `DistributedSampler` splits a
finite data set (images, or the points of a drawn / uploaded 2D set) into one shard per rank, and each
rank draws its real samples and latents with its own seed. After every backward pass DDP averages the
gradients over the ranks, so every rank takes the same Adam step and the weights stay identical (the
command checks that at the end: `params_identical`). Rank 0 writes the checkpoint, in the usual format.

The engine (`DDPEngine`) is the autograd engine with two changes DDP needs: every network is called
through its DDP wrapper exactly once per backward pass (D's real and fake passes, Q's head and the
gradient penalty's input pass go through one wrapper call), and gradients come from `backward()` (DDP
averages on the way) and are then copied into the trainer's flat buffers. The fake batch that D judges
is drawn without a graph; G's update draws it again from the same latents through G's wrapper (the same
images: G has not changed in between).
"""

from __future__ import annotations

import copy
import dataclasses
import os
import time
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DistributedSampler

from .. import losses, models
from .engines import AutogradEngine, _cluster, _lambdas, _shifted, _split

RANK_SEED_STRIDE = 7919  # rank r draws data and latents with seed + r * this


@dataclass(frozen=True)
class Group:
    """This process's place in the group."""

    rank: int  # 0 .. world_size - 1; rank 0 writes the checkpoint and prints the result
    world_size: int  # processes in the group
    local_rank: int  # the process's index on its machine (its GPU)
    device: torch.device  # where this rank trains


def launched() -> bool:
    """Whether this process was started by torchrun (or another launcher setting the same variables)."""
    return all(k in os.environ for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"))


def join(device: str | torch.device = "cpu") -> Group:
    """Join the process group torchrun set up: NCCL on CUDA (one GPU per local rank), gloo on CPU."""
    if not launched():
        raise RuntimeError("--ddp needs torchrun: torchrun --nproc_per_node=2 -m gan_core train ... --ddp")
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local = int(os.environ.get("LOCAL_RANK", rank))
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.set_device(local)
        device = torch.device("cuda", local)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Group(rank, world, local, device)


def leave() -> None:
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def shard(data, rank: int, world: int, seed: int = 0):
    """This rank's part of `data` (a DistributedSampler's indices): images of an ImageSource, or the
    points of an empirical 2D set. A 2D mixture has no finite set to split and is returned as is (ranks
    then differ by their seeds)."""
    if world <= 1:
        return data
    items = getattr(data, "images", None)
    if items is None:
        items = getattr(data, "points", None)
    if items is None:
        return data
    sampler = DistributedSampler(range(len(items)), num_replicas=world, rank=rank, shuffle=True, seed=seed,
                                 drop_last=len(items) >= world)
    idx = torch.tensor(list(sampler), dtype=torch.long)
    if getattr(data, "images", None) is not None:
        part = copy.copy(data)
        part.images = data.images[idx.to(data.images.device)].contiguous(memory_format=torch.channels_last)
        if data.labels is not None:
            part.labels = data.labels[idx.to(data.labels.device)]
        return part
    return dataclasses.replace(data, points=data.points[idx])


class _Judge(nn.Module):
    """D's whole pass of one update as one module call: real and fake (one joint batch when D judges
    each sample alone), Q's code predictions, and the gradient penalty's pass on interpolates."""

    def __init__(self, D: nn.Module, codes: bool, joint: bool):
        super().__init__()
        self.D, self.codes, self.joint = D, codes, joint

    def judge(self, x, c):
        if self.codes:
            return self.D.forward_with_q(x, c)
        return self.D(x, c), None

    def forward(self, real, real_c, fake, fake_c, x_hat=None, shifted=None, q_real=False):
        """(logits on real then fake, Q's predictions, the penalty's logits): Q's rows are the fakes', or
        with `q_real` the real, fake and `shifted` rows' (Q's clustering of real images)."""
        if real is None:  # G's update: the fakes only
            f, q = self.judge(fake, fake_c)
            return f, q, None
        extra = [] if shifted is None else [shifted]
        n = len(real)
        if self.joint:
            c = None if fake_c is None else torch.cat([real_c, fake_c, *[real_c] * len(extra)])
            out, q = self.judge(torch.cat([real, fake, *extra]), c)
            r, f = out[:n], out[n:2 * n]
            q = q if q is None or q_real else q[n:2 * n]
        else:
            r, qr = self.judge(real, real_c) if q_real else (self.D(real, real_c), None)
            f, q = self.judge(fake, fake_c)
            if q_real:
                q = torch.cat([qr, q, *[self.judge(x, real_c)[1] for x in extra]])
        gp_out = self.D(x_hat) if x_hat is not None else None
        return torch.cat([r, f]), q, gp_out


class DDPEngine(AutogradEngine):
    """The autograd engine through DistributedDataParallel wrappers of G and D."""

    name = "ddp"

    def __init__(self, trainer):
        super().__init__(trainer)
        dev = trainer.device
        ids = [dev.index] if dev.type == "cuda" else None
        self.g = DDP(trainer.G, device_ids=ids)
        self.d = DDP(_Judge(trainer.D, self.codes, self.joint), device_ids=ids)
        self.fake_z = self.fake_c = None

    def prepare_fake(self, z) -> None:
        self.fake_z, self.fake_c = _split(z)

    def save_fake(self) -> tuple:
        return (self.fake_z, self.fake_c)

    def restore_fake(self, state: tuple) -> None:
        self.fake_z, self.fake_c = state

    def _backward(self, loss: torch.Tensor, flat) -> None:
        """Gradients of `loss` (averaged over the ranks by DDP) into `flat`'s buffer; the other network's
        gradients are dropped."""
        for p in (*self.t.g_flat.params, *self.t.d_flat.params):
            p.grad = None
        loss.backward()
        flat.collect_grads()
        for p in (*self.t.g_flat.params, *self.t.d_flat.params):
            p.grad = None

    def d_step(self, real, z) -> tuple[torch.Tensor, torch.Tensor]:
        t = self.t
        (real, real_c), (z, c) = _split(real), _split(z)
        real_c = real_c if c is not None else None  # real labels matter to a conditional D only
        self.fake_z, self.fake_c = z, c
        with torch.no_grad():
            fake = t.G(z, c)
        x_hat = None
        if t.cfg.loss == "wgan-gp" and c is None:  # the penalty's interpolates (as losses.gradient_penalty)
            eps = torch.rand((real.shape[0],) + (1,) * (real.dim() - 1), generator=t.gen).to(real.device)
            x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
        cluster = _cluster(t)
        extra = _shifted(t, real, cluster)
        out, q, gp_out = self.d(real, real_c, fake, c, x_hat, extra[0] if extra else None, bool(cluster))
        n = len(real)
        r, f = out[:n], out[n:]
        loss = losses.d_loss(t.cfg.loss, r, f)
        if cluster:
            k = t.G.latent_spec.n_cat
            loss = loss + losses.cluster_loss(q[:n, :k], q[2 * n:, :k] if extra else None, *cluster)
            q = q[n:2 * n]
        if q is not None:
            loss = loss + losses.info_loss(q, *models.split_codes(t.G.latent_spec, z), *_lambdas(t))
        if gp_out is not None:
            (grad,) = torch.autograd.grad(gp_out.sum(), x_hat, create_graph=True)
            if getattr(t.D, "pack", 1) > 1:
                grad = grad.reshape(gp_out.shape[0], -1)
            loss = loss + losses.GP_LAMBDA * ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()
        self._backward(loss, t.d_flat)
        return r.detach(), f.detach()

    def g_step(self) -> torch.Tensor:
        t = self.t
        fake = self.g(self.fake_z, self.fake_c)
        fl, q, _ = self.d(None, None, fake, self.fake_c)
        loss = losses.g_loss(t.cfg.loss, fl)
        if q is not None:
            loss = loss + losses.info_loss(q, *models.split_codes(t.G.latent_spec, self.fake_z), *_lambdas(t))
        self._backward(loss, t.g_flat)
        return fl.detach()


def use_ddp(trainer, group: Group) -> None:
    """Make `trainer` train with DDP in `group`: DDP wrappers (rank 0's weights broadcast to all) and
    this rank's own seed for data and latents. (Changing settings later picks the family's engine again.)"""
    trainer._engine = DDPEngine(trainer)
    trainer.gen.manual_seed(trainer.cfg.seed + RANK_SEED_STRIDE * group.rank)


def weights(trainer) -> torch.Tensor:
    """G's and D's weights (and G's moving average) as one flat tensor."""
    parts = [trainer.g_flat.data, trainer.d_flat.data]
    if trainer.ema is not None:
        parts.append(trainer.ema)
    return torch.cat([p.detach().reshape(-1) for p in parts])


def identical_across_ranks(trainer) -> bool:
    """Whether every rank holds bit-identical weights (gathered on every rank)."""
    mine = weights(trainer)
    if not dist.is_initialized() or dist.get_world_size() == 1:
        return True
    every = [torch.empty_like(mine) for _ in range(dist.get_world_size())]
    dist.all_gather(every, mine)
    return all(torch.equal(every[0], w) for w in every[1:])


def train(cfg, group: Group, run, data=None):
    """Build the rank's trainer on its shard, train with `run(trainer)`, and return
    (trainer, seconds, params_identical)."""
    from ..data import registry as data_registry
    from .trainer import Trainer

    data = data if data is not None else data_registry.load(cfg.dataset, group.device, cfg.held_out)
    trainer = Trainer(cfg, data=shard(data, group.rank, group.world_size, cfg.seed), device=group.device)
    use_ddp(trainer, group)
    dist.barrier()
    t0 = time.perf_counter()
    run(trainer)
    if group.device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    return trainer, seconds, identical_across_ranks(trainer)
