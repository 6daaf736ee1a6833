// The Mixing tab's fast path (see app/tabs/mixing/route.py): any input inside a `.mx-live` control sends the
// mixing controls' values to the render route; one request is in flight at a time, and when it returns the
// newest values go next. The picture is drawn into a canvas over the first <img>. window.__mx keeps
// counters (shown frames, input-to-shown latencies in ms) as window.__lx does for the explorer.
if (!window.__mx) {
  const S = window.__mx = {busy: false, pending: false, first: null, n: 0, shown: 0, lat: [], err: null};
  const q = (sel) => document.querySelector(sel);
  const val = (id) => { const el = q('#' + id + ' input[type=range]') || q('#' + id + ' input'); return el ? el.value : null; };
  const checked = (id) => { const el = q('#' + id + ' input:checked'); return el ? el.value : null; };
  const params = () => {
    const img = q('#mx-view img.mx-img');
    if (!img) return null;
    const p = new URLSearchParams({t: img.dataset.token});
    const set = (k, v) => { if (v !== null && v !== '') p.set(k, v); };
    set('a', val('mx-a')); set('b', val('mx-b')); set('psi', val('mx-psi')); set('cut', val('mx-cut'));
    set('ns', val('mx-noise-seed')); set('cross', checked('mx-cross')); set('noise', checked('mx-noise'));
    const ws = Array.from(document.querySelectorAll('#mx-layers input:checked')).map((e) => e.value);
    p.set('w', ws.join(','));
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
        const img = q('#mx-view img.mx-img'), cv = q('#mx-view canvas.mx-canvas');
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
  const kick = (e) => {
    const t = e.target;
    if (!t || !t.closest || !t.closest('.mx-live')) return;
    if (S.first === null) S.first = performance.now();
    if (t.type === 'range') pump(); else setTimeout(pump, 0);
  };
  document.addEventListener('input', kick);
  document.addEventListener('change', kick);
}
