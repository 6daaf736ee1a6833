"""GANPaint's wiring: every event has an api name starting with `paint_`."""

from __future__ import annotations

from ...common.choices import QUIET

PREFIX = "paint_"


def wire(w, ev, ctx) -> None:
    model_out = [w.source, w.seed, w.brush, w.rank_class, w.counts, w.view, w.info, w.art_info, w.art_plot,
                 w.art_gallery, w.art_remove]
    pic_out = [w.view, w.info]
    opened = ctx.tab.select if getattr(ctx, "tab", None) is not None else ctx.demo.load
    opened(ev.init, None, model_out, api_name="paint_init", show_progress="minimal")
    w.use.click(ev.use_source, [w.source], model_out, api_name="paint_use", show_progress="minimal")
    w.seed.submit(ev.set_seed, [w.seed], [w.seed, *pic_out], api_name="paint_seed", **QUIET)
    w.random.click(ev.random_seed, None, [w.seed, *pic_out], api_name="paint_random", **QUIET)
    w.apply.click(ev.stroke, [w.brush, w.action, w.strength, w.units, w.cells], pic_out, api_name="paint_stroke",
                  **QUIET)
    w.undo.click(ev.undo, None, pic_out, api_name="paint_undo", **QUIET)
    w.reset.click(ev.reset, None, pic_out, api_name="paint_reset", **QUIET)
    w.show.click(ev.show_unit, [w.unit, w.rank_class], [w.unit_info, w.mean_map, w.top], api_name="paint_unit")
    # paint_artifacts is in app.common.limits' heavy group (one concurrency group for expensive events)
    w.art_find.click(ev.find_artifacts, [w.art_samples], [w.art_info, w.art_plot, w.art_gallery, w.art_remove,
                                                          *pic_out], api_name="paint_artifacts")
    w.art_remove.input(ev.remove_artifacts, [w.art_remove], pic_out, api_name="paint_artifacts_remove",
                       **QUIET)
