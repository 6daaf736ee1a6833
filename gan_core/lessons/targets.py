"""What a lesson may name: the app's tabs, the controls a step may press, choose or set, and the live
values a step may wait for. Plain data (no gradio): the parser validates against it and the lesson player
turns it into moves on the page. A control is found on the page by its element id (`#...`) or, for the
few settings without one, by its on-screen label inside its tab (`label:...`)."""

from __future__ import annotations

from dataclasses import dataclass

from gan_core.data.scenes import MASK_NAMES
from gan_core.losses import LOSSES

SCENE_CLASSES = tuple(MASK_NAMES)

# tab id (the package name under app/tabs/) -> the tab's title on the page
TABS = {
    "train2d": "Train (2D)",
    "trainimg": "Train (images)",
    "explore": "Latent explorer",
    "codes": "Code knobs",
    "mixing": "Style mixing",
    "paint": "GANPaint",
    "lessons": "Lessons",
}


@dataclass(frozen=True)
class Control:
    """One thing on a tab that a lesson step may use."""

    tab: str  # the tab it sits on (a key of TABS)
    kind: str  # button, dropdown, slider, radio, number, textbox, accordion, subtab (a tab inside a tab,
    #            selector = its title) or text (read only)
    selector: str  # '#elem-id', or 'label:On-screen label' (found by its label inside the tab)
    choices: tuple = ()  # for dropdowns and radios with fixed values: the values allowed
    values: str = ""  # for dropdowns whose values are of a kind: "preset-2d", "preset-image", "shipped-2d",
    #                   "shipped-image", "model" (a shipped generator by file stem)
    contract: bool = False  # part of the Train (2D) tab's "How it works" panel (may be missing on old builds)
    lo: float | None = None  # sliders and numbers: the smallest value
    hi: float | None = None  # sliders and numbers: the largest value


CONTROLS: dict[str, Control] = {
    # Train (2D)
    "2d.preset": Control("train2d", "dropdown", "#preset-select", values="preset-2d"),
    "2d.preset-again": Control("train2d", "button", "#load-preset"),
    "2d.shipped": Control("train2d", "dropdown", "#shipped-select", values="shipped-2d"),
    "2d.load-shipped": Control("train2d", "button", "#load-shipped"),
    "2d.train": Control("train2d", "button", "#train-play"),
    "2d.pause": Control("train2d", "button", "#train-pause"),
    "2d.reset": Control("train2d", "button", "#train-reset"),
    "2d.step": Control("train2d", "button", "#step-both"),
    "2d.counter": Control("train2d", "text", "#mode-counter"),
    "2d.loss": Control("train2d", "dropdown", "label:Loss", choices=LOSSES),
    "2d.unroll": Control("train2d", "slider", "label:Unrolled D steps (0 = off)", lo=0, hi=10),
    "2d.model-panel": Control("train2d", "accordion", "label:Model (applied on Reset)"),
    "2d.pack": Control("train2d", "slider", "label:PacGAN pack (D sees this many points)", lo=1, hi=4),
    "2d.howitworks": Control("train2d", "accordion", "#t2d-howitworks", contract=True),
    "2d.graph": Control("train2d", "text", "#t2d-graph", contract=True),
    "2d.slowmo": Control("train2d", "button", "#t2d-slowmo", contract=True),
    "2d.slowmo-speed": Control("train2d", "slider", "#t2d-slowmo-speed", contract=True, lo=0, hi=5),
    "2d.substep": Control("train2d", "text", "#t2d-substep", contract=True),
    "2d.formula": Control("train2d", "text", "#t2d-formula", contract=True),
    "2d.gcurve": Control("train2d", "text", "#t2d-gcurve", contract=True),
    # Train (images)
    "img.preset": Control("trainimg", "dropdown", "#img-preset-select", values="preset-image"),
    "img.shipped": Control("trainimg", "dropdown", "#img-shipped-select", values="shipped-image"),
    "img.load-shipped": Control("trainimg", "button", "#img-load-shipped"),
    "img.train": Control("trainimg", "button", "#img-train-play"),
    "img.pause": Control("trainimg", "button", "#img-train-pause"),
    "img.headline": Control("trainimg", "text", "#img-headline"),
    "img.grid-caption": Control("trainimg", "text", "#img-grid-caption"),
    # Latent explorer
    "lx.model": Control("explore", "dropdown", "#lx-source", values="model"),
    "lx.use": Control("explore", "button", "#lx-use"),
    "lx.info": Control("explore", "text", "#lx-info"),
    "lx.sliders-tab": Control("explore", "subtab", "Sliders"),
    "lx.truncation-tab": Control("explore", "subtab", "Truncation"),
    "lx.interpolation-tab": Control("explore", "subtab", "Interpolation"),
    "lx.arithmetic-tab": Control("explore", "subtab", "Arithmetic"),
    "lx.random": Control("explore", "button", "#lx-random"),
    "lx.psi": Control("explore", "slider", "#lx-psi", lo=0, hi=2),
    "lx.interpolate": Control("explore", "button", "#lx-interp-go"),
    "lx.interp-caption": Control("explore", "text", "#lx-interp-caption"),
    "lx.arith-suggest": Control("explore", "button", "#lx-arith-suggest"),
    "lx.arith": Control("explore", "button", "#lx-arith-go"),
    "lx.arith-caption": Control("explore", "text", "#lx-arith-caption"),
    "lx.truncation": Control("explore", "button", "#lx-trunc-go"),
    "lx.trunc-caption": Control("explore", "text", "#lx-trunc-caption"),
    # Code knobs (InfoGAN)
    "ck.model": Control("codes", "dropdown", "#ck-source", values="model"),
    "ck.use": Control("codes", "button", "#ck-use"),
    "ck.info": Control("codes", "text", "#ck-info"),
    "ck.knobs-tab": Control("codes", "subtab", "Knobs"),
    "ck.sweeps-tab": Control("codes", "subtab", "Sweeps"),
    "ck.learned-tab": Control("codes", "subtab", "What did each code learn?"),
    "ck.learn": Control("codes", "button", "#ck-learn-go"),
    "ck.learn-summary": Control("codes", "text", "#ck-learn-summary"),
    "ck.sweep": Control("codes", "button", "#ck-sweep-go"),
    "ck.sweep-caption": Control("codes", "text", "#ck-sweep-caption"),
    # Style mixing
    "mx.model": Control("mixing", "dropdown", "#mx-source", values="model"),
    "mx.use": Control("mixing", "button", "#mx-use"),
    "mx.info": Control("mixing", "text", "#mx-info"),
    "mx.styles": Control("mixing", "radio", "#mx-cross", choices=("coarse", "middle", "fine")),
    "mx.readout": Control("mixing", "text", "#mx-readout"),
    "mx.grid": Control("mixing", "button", "#mx-grid-go"),
    "mx.grid-caption": Control("mixing", "text", "#mx-grid-caption"),
    # GANPaint (dissection)
    "gp.model": Control("paint", "dropdown", "#gp-source", values="model"),
    "gp.use": Control("paint", "button", "#gp-use"),
    "gp.info": Control("paint", "text", "#gp-info"),
    "gp.dissection": Control("paint", "accordion", "label:Unit viewer and dissection"),
    "gp.rank-class": Control("paint", "dropdown", "#gp-rank-class", choices=SCENE_CLASSES),
    "gp.unit-info": Control("paint", "text", "#gp-unit-info"),
    "gp.brush": Control("paint", "radio", "#gp-brush", choices=SCENE_CLASSES),
    "gp.action": Control("paint", "radio", "#gp-action", choices=("Add", "Remove")),
    "gp.cells-panel": Control("paint", "accordion", "label:Stroke by cells (keyboard, scripts)"),
    "gp.cells": Control("paint", "textbox", "#gp-cells"),
    "gp.apply": Control("paint", "button", "#gp-apply"),
    "gp.show": Control("paint", "button", "#gp-show"),
}

# what each action needs of its control
ACTIONS = {"click": ("button", "subtab"), "choose": ("dropdown", "radio"),
           "set": ("slider", "number", "textbox"), "expand": ("accordion",)}

# live values read from the visitor's own state on the server (the wait conditions): name -> (tab, meaning)
MEASURES = {
    "modes": ("train2d", "modes covered by the 2D training's last evaluation"),
    "step": ("train2d", "the 2D training's step"),
    "classes": ("trainimg", "classes covered (confidently) by the image training's last evaluation"),
    "img-step": ("trainimg", "the image training's step"),
}
