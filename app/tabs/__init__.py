"""One package per tab. Each exports TITLE, ORDER, PREFIX (its api names start with it) and build(ctx),
optionally slot_kind(ctx) (the per-visitor object it keeps in the session store) and routes(ctx)
(Starlette routes served beside the Gradio app). app.server discovers them; no tab imports another."""
