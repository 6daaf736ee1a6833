"""The latent explorer's wiring: every event has an api name starting with `explore_`."""

from __future__ import annotations

import gradio as gr

from ...common.choices import QUIET

PREFIX = "explore_"


def wire_point(w, ev, ctx) -> None:
    """The model row and the Sliders tab."""
    model_out, point_out = ev.model_outputs, ev.point_outputs
    opened = ctx.tab.select if getattr(ctx, "tab", None) is not None else ctx.demo.load
    opened(ev.init, None, model_out, api_name="explore_init", **QUIET)
    w.use.click(ev.use_source, [w.source], model_out, api_name="explore_use", show_progress="minimal")
    w.seed.submit(ev.set_seed, [w.seed], [w.seed, *point_out], api_name="explore_seed", **QUIET)
    w.random.click(ev.random_seed, None, [w.seed, *point_out], api_name="explore_random", **QUIET)
    w.label.input(ev.set_label, [w.label], point_out, api_name="explore_class", **QUIET)
    w.basis.input(ev.set_basis, [w.basis], point_out, api_name="explore_basis", **QUIET)
    w.page.input(ev.set_page, [w.page], point_out, api_name="explore_page", **QUIET)
    gr.on([w.psi.release, *(s.release for s in w.sliders)], ev.move, [w.psi, *w.sliders],
          [w.view, w.readout], api_name="explore_move", trigger_mode="always_last", **QUIET)
    w.reset.click(ev.reset, None, point_out, api_name="explore_reset", **QUIET)
    w.save_dir.click(ev.save_direction, [w.dir_name], [w.saved_list], api_name="explore_save_direction", **QUIET)
    w.download.click(ev.download, None, [w.download_file], api_name="explore_save_picture", **QUIET)


def wire_tools(w, tools, inv, point_out) -> None:
    """The Truncation, Interpolation, Arithmetic and Inversion tabs."""
    w.trunc_go.click(tools.truncation, [w.trunc_psis, w.trunc_first, w.trunc_n],
                     [w.trunc_picture, w.trunc_plot, w.trunc_table, w.trunc_caption],
                     api_name="explore_truncation")
    w.interp_go.click(tools.interpolate, [w.interp_seeds, w.interp_frames, w.interp_mode],
                      [w.interp_strip, w.interp_gif, w.interp_caption, w.interp_download],
                      api_name="explore_interpolate")
    w.browse_go.click(tools.browse, [w.browse_first], [w.gallery], api_name="explore_browse")
    w.arith_go.click(tools.arithmetic, [w.arith_a, w.arith_b, w.arith_c], [w.arith_picture, w.arith_caption],
                     api_name="explore_arithmetic")
    w.arith_suggest.click(tools.suggest_recipe, None,
                          [w.arith_a, w.arith_b, w.arith_c, w.arith_picture, w.arith_caption],
                          api_name="explore_suggest_recipe")
    w.inv_go.click(inv.invert, [w.inv_kind, w.inv_index, w.inv_upload], [w.inv_picture, w.inv_readout],
                   api_name="explore_invert")
    w.inv_use.click(inv.explore_inverted, None, [w.label, *point_out], api_name="explore_use_inverted", **QUIET)
    w.mre_go.click(inv.mre, [w.mre_n], [w.mre_table, w.mre_readout], api_name="explore_mre")
