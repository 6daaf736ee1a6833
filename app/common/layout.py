"""Layout for a projector: what every tab uses so that its main view (the main picture and its first
controls) fits a 1280x720 or 1920x1080 screen without scrolling, and the app's presenter mode.

A tab marks its parts with these helpers (or their CSS classes) and gets the rest from the app's CSS:

- `main_column(...)`: the column holding the tab's main picture. It sticks to the top of the window
  while the page scrolls (the Latent explorer's picture stays in view while the sliders beside it
  scroll), and pictures inside it (`PICTURE`) are at most `--gx-pic-h` tall: the window's height less
  the header and the controls above them, and at most 480 pixels (presenter mode lifts that cap: on a
  1920x1080 screen its pictures are about 740 pixels tall instead of 480).
- `picture_classes()`: elem_classes for the main picture (a gr.Image, gr.HTML or a canvas inside one):
  sized to the window as above; larger in presenter mode.
- `notes(text, label)`: a long explanation in an expandable accordion (`NOTE`). Presenter mode closes
  every open note (a click opens one again) and leaving it opens again the notes it closed.
- `PLOT` (elem_classes of a gr.LinePlot / ScatterPlot): the block grows to hold its title and the whole
  chart (Gradio's fixed block height cut the x axis off). A chart that must read from the back of a
  room (the FD curve, the truncation trade-off) is drawn with matplotlib as a picture instead: axes,
  margins and reference lines as a projector needs them.
- `presenter_toggle()`: the one checkbox (in the header) that switches presenter mode: larger pictures,
  larger headlines, notes closed, the header's sentence hidden. It runs in the page only (no server
  round trip, nothing to script): it sets the class `gx-presenter` on <body>.

tests/test_browser_layout.py checks every tab at 1280x720 (both modes) by bounding boxes.
"""

from __future__ import annotations

import gradio as gr

MAIN = "gx-main"  # the column with the main picture: sticky at the top of the window
PICTURE = "gx-picture"  # the main picture: at most the window's height less what sits above it
CONTROLS = "gx-controls"  # the first controls beside or above the picture: kept compact
PLOT = "gx-plot"  # a chart: its block holds the title and the whole chart (x axis included)
NOTE = "gx-note"  # an accordion of long text: closed in presenter mode
PRESENTER = "gx-presenter"  # the class on <body> in presenter mode
PRESENTER_ID = "presenter-toggle"

CSS = """
:root { --gx-pic-h: min(calc(100vh - 335px), 480px); }
body.gx-presenter { --gx-pic-h: max(min(calc(100vh - 335px), 480px), calc(100vh - 340px)); }
#header-row { gap: 8px; align-items: center; flex-wrap: nowrap; margin: -10px 0 -8px 0; }
#header { padding: 0 !important; flex: 1 1 auto !important; }
#header h1 { font-size: 1.35rem; margin: 0; display: inline; }
#header p { display: inline; margin-left: 0.8em; font-size: 0.9rem; white-space: nowrap; }
#header .prose { overflow: hidden; white-space: nowrap; text-overflow: ellipsis; }
.gx-small, .gx-small p { font-size: 0.85rem !important; line-height: 1.3 !important; margin: 0 !important; }
#presenter-toggle { flex: 0 0 180px !important; min-width: 180px !important; max-width: 180px;
  padding: 2px 8px !important; }
body.gx-presenter #header p { display: none !important; }
/* Gradio's overflow: hidden makes the container the scroll box, and sticky columns need the window */
.gradio-container { overflow: clip !important; }
.gx-main { position: sticky; top: 4px; align-self: flex-start; z-index: 5; }
.gx-picture img, .gx-picture canvas { max-height: var(--gx-pic-h) !important; object-fit: contain; }
.gx-picture .image-container, .gx-picture .image-frame, .gx-picture button { height: auto !important; }
/* a live canvas (square) keeps its shape when the height limit shrinks it */
.gx-picture canvas.tl-view { width: auto !important; aspect-ratio: 1 / 1; max-width: 100% !important; }
.gx-picture { height: auto !important; max-height: none !important; width: auto !important; }
/* presenter mode: pictures grow to the height allowed (enlarged past their own size) */
body.gx-presenter .gx-picture img, body.gx-presenter .gx-picture canvas {
  height: var(--gx-pic-h) !important; width: auto !important; max-width: 100% !important; }
.gx-controls { gap: 8px !important; }
/* a chart overflows its block by the title's height: leave room so its x axis shows */
.gx-plot { overflow: visible !important; margin-bottom: 30px !important; }
.gx-headline h2 { font-size: 1.5rem !important; margin: 0 0 0.1em 0 !important; }
.gx-headline p { font-size: 0.85rem; margin: 0.05em 0 !important; line-height: 1.3; }
/* Gradio scopes the app's rules under .gradio-container (4 classes); <body> rules must outweigh them */
body.gx-presenter .gradio-container .gx-headline.gx-headline h2 { font-size: 1.6rem !important; }
body.gx-presenter .gradio-container .gx-headline.gx-headline p { font-size: 0.95rem !important; }
"""

# closes (presenter on) or reopens (off) the notes: Gradio's accordion opens and closes on its header. Notes
# drawn later (a tab is drawn when first opened) are closed when they appear, once each: a note the
# visitor opens in presenter mode stays open.
TOGGLE_JS = """(on) => {
  const close = (acc) => {
    if (acc.dataset.gxSeen || !acc.querySelector('button.label-wrap')) return;
    acc.dataset.gxSeen = '1';
    let tries = 0;
    const attempt = () => {  // a note just drawn may not answer its first click: look again shortly
      const head = acc.querySelector('button.label-wrap');
      const on = document.body.classList.contains('gx-presenter');
      if (!on || !head || !head.classList.contains('open')) return;
      head.click();
      acc.dataset.gxClosed = '1';
      if (++tries < 5) setTimeout(attempt, 400);
    };
    attempt();
  };
  document.body.classList.toggle('gx-presenter', !!on);
  if (!window.__gxNotes) {
    window.__gxNotes = new MutationObserver(() => {
      if (!document.body.classList.contains('gx-presenter')) return;
      document.querySelectorAll('.gx-note').forEach(close);
    });
    window.__gxNotes.observe(document.body, {childList: true, subtree: true});
  }
  document.querySelectorAll('.gx-note').forEach((acc) => {
    if (on) { close(acc); return; }
    const head = acc.querySelector('button.label-wrap');
    if (acc.dataset.gxClosed && head && !head.classList.contains('open')) head.click();
    delete acc.dataset.gxClosed; delete acc.dataset.gxSeen;
  });
  return on;
}"""


def main_column(scale: int = 5, min_width: int = 320, **kwargs) -> gr.Column:
    """A column for the tab's main picture: sticky at the top of the window while the page scrolls."""
    return gr.Column(scale=scale, min_width=min_width, elem_classes=[MAIN], **kwargs)


def picture_classes() -> list[str]:
    """elem_classes for a main picture. A picture drawn at a fixed width (an <img> in gr.HTML) also
    limits its width: `max-width: min(100%, calc(var(--gx-pic-h) * width / height))`."""
    return [PICTURE]


def notes(text: str, label: str = "Notes", open: bool = True, elem_id: str | None = None) -> gr.Markdown:
    """Long text in an expandable accordion (closed in presenter mode); returns its Markdown."""
    with gr.Accordion(label, open=open, elem_classes=[NOTE]):
        return gr.Markdown(text, elem_id=elem_id)


def presenter_toggle() -> gr.Checkbox:
    """The presenter-mode checkbox (one per app, in the header); switched in the page only."""
    box = gr.Checkbox(False, label="Presenter mode", elem_id=PRESENTER_ID, container=False, scale=0,
                      min_width=150)
    box.change(None, [box], [box], js=TOGGLE_JS, queue=False, show_progress="hidden")
    return box
