// The page side of every fast render route (see app/common/render_route.py), set up once per page for one
// tab: any input (and, where asked, change) inside a `.PFX-live` control sends the tab's control values to
// its render route; one request is in flight at a time, and when it returns, the newest values go next.
// The picture is decoded off the main thread (createImageBitmap) and drawn into the canvas that takes the
// place of the tab's <img> (an <img> would wait for a frame to decode). window.KEY keeps counters (shown
// frames, input-to-shown latencies in ms, split into waiting and fetching) that the latency bench and the
// browser tests read. Python fills in KEY, PFX, ROUTE, EVENTS and PARAMS (the tab's lines that set the
// query `p` from its controls; `q`, `val` and `checked` are at hand).
if (!window.KEY) {
  const S = window.KEY = {busy: false, pending: false, first: null, n: 0, shown: 0, lat: [], wait: [], fetch: [], err: null};
  const q = (sel) => document.querySelector(sel);
  const val = (id) => { const el = q('#' + id + ' input[type=range]') || q('#' + id + ' input'); return el ? el.value : null; };
  const checked = (id) => { const el = q('#' + id + ' input:checked'); return el ? el.value : null; };
  const params = () => {
    const img = q('#PFX-view img.PFX-img');
    if (!img) return null;
    const p = new URLSearchParams({t: img.dataset.token});
    PARAMS
    return p;
  };
  const pump = async () => {
    if (S.busy) { S.pending = true; return; }
    S.busy = true;
    try {
      do {
        S.pending = false;
        const t0 = S.first; S.first = null;
        const p = params();
        if (!p) break;
        p.set('r', String(++S.n));
        const t1 = performance.now();
        const res = await fetch('ROUTE?' + p.toString(), {cache: 'no-store'});
        if (!res.ok) { S.err = await res.text(); continue; }
        const bmp = await createImageBitmap(await res.blob());
        const img = q('#PFX-view img.PFX-img'), cv = q('#PFX-view canvas.PFX-canvas');
        if (!img || !cv) { bmp.close(); break; }
        if (cv.width !== bmp.width || cv.height !== bmp.height) { cv.width = bmp.width; cv.height = bmp.height; }
        cv.getContext('2d').drawImage(bmp, 0, 0);
        bmp.close();
        if (cv.style.display === 'none') { cv.style.width = img.style.width; cv.style.display = 'block'; img.style.display = 'none'; }
        S.shown++;
        const t2 = performance.now();
        if (t0 !== null) { S.lat.push(t2 - t0); S.wait.push(t1 - t0); S.fetch.push(t2 - t1); }
      } while (S.pending);
    } catch (e) { S.err = String(e); }
    finally { S.busy = false; }
  };
  const kick = (e) => {
    const t = e.target;
    if (!t || !t.closest || !t.closest('.PFX-live')) return;
    if (S.first === null) S.first = performance.now();
    if (t.type === 'range') pump(); else setTimeout(pump, 0);
  };
  for (const ev of EVENTS) document.addEventListener(ev, kick);
}
