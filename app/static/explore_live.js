// The latent explorer's fast path (see app/tabs/explore/route.py). Bound once per page: any input inside a
// `.lx-live` slider sends the slider values to the render route; one request is in flight at a time, and
// when it returns, the newest values go next. The picture is decoded off the main thread
// (createImageBitmap) and drawn into a canvas that takes the place of the first <img>; an <img> would wait
// for a frame to decode. window.__lx keeps counters (shown frames, input-to-shown latencies in ms) that the
// latency bench reads. Python fills in %(sliders)d (sliders on a page) and %(route)s (the route's path).
if (!window.__lx) {
  const S = window.__lx = {busy: false, pending: false, first: null, n: 0, shown: 0, lat: [], wait: [], fetch: [], err: null};
  const q = (sel) => document.querySelector(sel);
  const params = () => {
    const img = q('#lx-view img.lx-img');
    if (!img) return null;
    const p = new URLSearchParams({t: img.dataset.token});
    const psi = q('#lx-psi input[type=range]');
    if (psi) p.set('psi', psi.value);
    for (let i = 0; i < %(sliders)d; i++) {
      const el = q('#lx-s' + i + ' input[type=range]');
      if (el) p.set('v' + i, el.value);
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
        const t1 = performance.now();
        const res = await fetch('%(route)s?' + p.toString(), {cache: 'no-store'});
        if (!res.ok) { S.err = await res.text(); continue; }
        const bmp = await createImageBitmap(await res.blob());
        const img = q('#lx-view img.lx-img'), cv = q('#lx-view canvas.lx-canvas');
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
  document.addEventListener('input', (e) => {
    const t = e.target;
    if (!t || !t.closest || !t.closest('.lx-live')) return;
    if (S.first === null) S.first = performance.now();
    if (t.type === 'range') pump(); else setTimeout(pump, 0);
  });
}
