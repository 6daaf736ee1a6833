"""The current-model service: where a tab's model comes from (the visitor's live 2D or image training,
copied from a snapshot; a shipped checkpoint; an uploaded one), and the one-training-per-visitor rule:
two trainings on this machine's 2 CPU cores slow each other down about 10x, so starting one pauses the
visitor's other one."""

from __future__ import annotations

import copy
import threading
from pathlib import Path

from gan_core import checkpoint, models
from gan_core.explore import latent as lx

from .sessions import Visitor

TRAININGS = ("train2d", "trainimg")  # the slots that hold a visitor's trainings
LIVE = {"live:image": ("trainimg", "Train (images)"),  # live source -> (its training slot, its tab)
        "live:2d": ("train2d", "Train (2D)")}
SNAPSHOT_WAIT_S = 2.0  # how long a copy waits for the training lock
PAUSED = {  # the notice shown when starting a training paused the visitor's other one, by the paused slot
    "trainimg": "Paused your image training so that this one gets the CPU.",
    "train2d": ("Paused your Train (2D) session: two trainings on this machine's 2 CPU cores would slow each "
                "other down about 10x."),
}


def start_training(visitor: Visitor, which: str) -> str | None:
    """Pause the visitor's running trainings other than `which`, start `which`, and return the notice to
    show (None when nothing else was running)."""
    slot = visitor.slot(which)
    notice = None
    for other in TRAININGS:
        held = visitor.peek(other) if other != which else None
        if held is not None and held.training.state == "running":
            held.training.pause()
            notice = PAUSED[other]
    slot.training.play()
    return notice


def shipped(folder: Path, output: str | None = None) -> list[tuple[str, dict]]:
    """(path, metadata) of the readable generator checkpoints in `folder`, of one output kind ('points'
    or 'image') when given; checkpoints of families this build does not know are left out then."""
    found = []
    for path, meta in checkpoint.readable(folder):
        if output is not None:
            try:
                if models.output_kind(meta["family"]) != output:
                    continue
            except ValueError:
                continue
        found.append((path, meta))
    return found


def require_output(meta: dict, output: str, what: str, elsewhere: str) -> None:
    """CheckpointError unless the checkpoint's model has the `output` kind this tab trains."""
    try:
        kind = models.output_kind(meta["family"])
    except ValueError as e:
        raise checkpoint.CheckpointError(f"{what}: {e}") from None
    if kind != output:
        raise checkpoint.CheckpointError(f"{what} holds {elsewhere}")


class ModelService:
    """A visitor's current model for the tabs that explore one (a frozen copy, see LatentModel)."""

    def __init__(self, sessions, checkpoints_dir: Path):
        self.sessions = sessions  # the SessionStore holding the visitors' trainings
        self.checkpoints_dir = Path(checkpoints_dir)  # shipped checkpoints
        self._shipped: dict[str, lx.LatentModel] = {}  # choice value -> the frozen copy every visitor shares
        self._shipped_lock = threading.Lock()

    def source_choices(self) -> list[tuple[str, str]]:
        """(label, value) of the model sources: the visitor's live models, then every shipped generator."""
        out = [(f"Your model on {tab}", src) for src, (_, tab) in LIVE.items()]
        for p, meta in shipped(self.checkpoints_dir):
            path = Path(p)
            label = f"Shipped: {path.stem} ({meta['dataset']}, step {meta['step']})"
            out.append((label, f"ckpt:{path.name}"))
        return out

    @staticmethod
    def is_live(source: str) -> bool:
        return isinstance(source, str) and source in LIVE

    def live_snapshot(self, visitor: Visitor, source: str):
        """The latest snapshot of the visitor's training behind a live source (created on first use)."""
        return visitor.slot(LIVE[source][0]).training.snapshot(wait=SNAPSHOT_WAIT_S)

    def load(self, visitor: Visitor, source: str) -> tuple[lx.LatentModel, int]:
        """(model, training step of a live source or -1) for a source value of `source_choices`."""
        if self.is_live(source):
            snap = self.live_snapshot(visitor, source)
            return lx.LatentModel.from_snapshot(snap, f"Your model on {LIVE[source][1]}"), snap.step
        known = {v for _, v in self.source_choices()}
        if not isinstance(source, str) or source not in known:
            raise checkpoint.CheckpointError(f"no model source named {str(source)[:60]!r}")
        return self._shipped_model(source), -1

    def _shipped_model(self, source: str) -> lx.LatentModel:
        """A visitor's own copy of a shipped checkpoint's frozen model. The checkpoint is loaded, its
        BatchNorm statistics re-estimated and its principal directions found once per server (about 4 s
        of CPU); each visitor then gets a deep copy of that model (milliseconds; the training data is
        shared, never copied), so hooks one visitor puts on their generator never reach another's."""
        with self._shipped_lock:
            proto = self._shipped.get(source)
            if proto is None:
                name = source.split(":", 1)[1]
                ckpt = checkpoint.load(str(self.checkpoints_dir / name), "cpu")
                proto = lx.LatentModel.from_checkpoint(ckpt, f"Shipped {Path(name).stem}")
                lx.pca_directions(proto)  # kept on the model, so every copy carries them
                self._shipped[source] = proto
        return copy.deepcopy(proto, {id(proto.data): proto.data} if proto.data is not None else {})

    def default_source(self, visitor: Visitor) -> str:
        """The visitor's live model once it has trained (images first), else a shipped digits generator."""
        for src, (slot, _) in LIVE.items():
            held = visitor.peek(slot)
            if held is not None and held.training.snapshot(wait=SNAPSHOT_WAIT_S).step > 0:
                return src
        ckpts = [v for _, v in self.source_choices() if v.startswith("ckpt:")]
        digits = [v for v in ckpts if "digits-dcgan" in v]
        return (digits or [v for v in ckpts if "digits" in v] or ckpts or ["live:image"])[0]
