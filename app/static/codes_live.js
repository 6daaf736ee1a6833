// The Code knobs tab's fast path (see app/tabs/codes/route.py), built as the latent explorer's
// (explore_live.js): any input inside a `.ck-live` control (the category radio, the code sliders) sends the
// category and the code values to the render route; one request is in flight at a time and the newest
// values go next; the picture is decoded off the main thread and drawn into a canvas that replaces the
// <img>. window.__ck counts shown frames and input-to-shown latencies (ms). Python fills in %(knobs)d and
// %(route)s.
if (!window.__ck) {
  const S = window.__ck = {busy: false, pending: false, first: null, n: 0, shown: 0, lat: [], err: null};
  const q = (sel) => document.querySelector(sel);
  const params = () => {
    const img = q('#ck-view img.ck-img');
    if (!img) return null;
    const p = new URLSearchParams({t: img.dataset.token});
    const cat = q('#ck-cat input:checked');
    if (cat) p.set('cat', cat.value);
    for (let i = 0; i < %(knobs)d; i++) {
      const el = q('#ck-c' + i + ' input[type=range]');
      if (el && el.closest('.block') && el.closest('.block').offsetParent !== null) p.set('c' + i, el.value);
    }
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
        const res = await fetch('%(route)s?' + p.toString(), {cache: 'no-store'});
        if (!res.ok) { S.err = await res.text(); continue; }
        const bmp = await createImageBitmap(await res.blob());
        const img = q('#ck-view img.ck-img'), cv = q('#ck-view canvas.ck-canvas');
        if (!img || !cv) { bmp.close(); break; }
        if (cv.width !== bmp.width || cv.height !== bmp.height) { cv.width = bmp.width; cv.height = bmp.height; }
        cv.getContext('2d').drawImage(bmp, 0, 0);
        bmp.close();
        if (cv.style.display === 'none') { cv.style.width = img.style.width; cv.style.display = 'block'; img.style.display = 'none'; }
        S.shown++;
        if (t0 !== null) S.lat.push(performance.now() - t0);
      } while (S.pending);
    } catch (e) { S.err = String(e); }
    finally { S.busy = false; }
  };
  document.addEventListener('input', (e) => {
    const t = e.target;
    if (!t || !t.closest || !t.closest('.ck-live')) return;
    if (S.first === null) S.first = performance.now();
    if (t.type === 'range') pump(); else setTimeout(pump, 0);
  });
}
