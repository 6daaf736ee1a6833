"""The words on the screen for the settings' internal names, in one place.

The core (gan_core) names settings by their config fields (`lr_d`, `g_ema`, ...), which is right for the
CLI and the Python API. On the page a visitor sees widget labels, so every message that reaches the page
goes through `in_words` (field names -> labels), and a refused setting is reported by `refusal`: the
label, the reason, what was typed (quoted) and the value that stays in force.

`SENSIBLE` holds the ranges that teaching runs stay in: a value outside is still applied (it may be the
point of the lesson) but the visitor is warned (`far_out`).
"""

from __future__ import annotations

import numbers
import re

LABELS = {  # config field -> the label of its widget (app/common/controls.py, app/tabs/train2d/layout.py)
    "loss": "Loss",
    "optimizer": "Optimizer",
    "beta1": "Adam beta1 (momentum)",
    "lr_d": "D learning rate",
    "lr_g": "G learning rate",
    "d_steps": "k: D steps per G step",
    "batch_size": "Batch size",
    "unroll": "Unrolled D steps",
    "g_ema": "G weight EMA",
    "g_hidden": "G width",
    "g_layers": "G hidden layers",
    "d_hidden": "D width",
    "d_layers": "D hidden layers",
    "activation": "G activation",
    "d_activation": "D activation",
    "z_dim": "Noise dimensions",
    "noise": "Noise type",
    "pack": "PacGAN pack",
}
# Names translated inside any message: the internal-looking ones. Plain words ("loss", "noise", "pack")
# also occur in ordinary sentences, so they are translated only where a message is about that setting.
INTERNAL = ("lr_d", "lr_g", "g_ema", "d_steps", "batch_size", "g_hidden", "d_hidden", "g_layers", "d_layers",
            "z_dim", "beta1", "unroll", "d_activation")
# not after "Adam ": beta1's label holds the name, and translating twice must change nothing
_INTERNAL_RE = re.compile(r"(?<!Adam )\b(" + "|".join(INTERNAL) + r")\b")

SENSIBLE = {  # field -> (lowest, highest, how the range reads); outside it a setting applies with a warning
    "lr_d": (1e-6, 0.1, "1e-06 to 0.1"),
    "lr_g": (1e-6, 0.1, "1e-06 to 0.1"),
    "g_ema": (0.9, 0.9999, "0 (off) or 0.9 to 0.9999"),  # 0 is off, and fine
}
SENSIBLE_ZERO = {"g_ema"}  # fields for which 0 means off and needs no warning


def label(name: str) -> str:
    return LABELS.get(name, name)


_LEADING_RE = re.compile(r"^(" + "|".join(k for k in LABELS if k not in INTERNAL) + r") must\b")


def in_words(text: str) -> str:
    """`text` with every internal setting name replaced by its widget label, and a plain-word name
    that starts a "<name> must ..." message too ("pack must be ..." -> "PacGAN pack must be ...")."""
    text = _INTERNAL_RE.sub(lambda m: LABELS[m.group(1)], str(text))
    return _LEADING_RE.sub(lambda m: LABELS[m.group(1)] + " must", text)


def show(v) -> str:
    """A setting's value as a visitor reads it: 0.001, 128, adam."""
    if isinstance(v, numbers.Real) and not isinstance(v, bool):
        return format(v, "g")
    return str(v)


def quoted(v) -> str:
    """What was typed, quoted (at most 40 characters); an empty box says so."""
    return "an empty box" if v is None or str(v).strip() == "" else repr(str(v)[:40])


def refusal(reason: str, name: str, typed, current) -> str:
    """'<label> <reason>, got '<typed>'; keeping <current>' from a core message such as
    "lr_d must be in (0, 10], got 50.0" (its own ', got ...' is replaced by what was typed)."""
    text = re.sub(r",? got .*$", "", in_words(reason).strip())
    if text.startswith(name + " "):
        text = label(name) + text[len(name):]
    if not text.startswith(label(name)):
        text = f"{label(name)}: {text}"
    return f"{text}, got {quoted(typed)}; keeping {show(current)}"


def far_out(name: str, v) -> str | None:
    """A warning when `v` is outside the sensible range of setting `name`, else None."""
    if name not in SENSIBLE or not isinstance(v, numbers.Real) or (v == 0 and name in SENSIBLE_ZERO):
        return None
    lo, hi, words = SENSIBLE[name]
    if lo <= v <= hi:
        return None
    return (f"{label(name)} {show(v)} is outside the usual range ({words}): it is applied, but expect the "
            "losses to jump or training to stall")
