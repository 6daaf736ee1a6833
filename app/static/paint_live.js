// GANPaint's fast path (see app/tabs/paint/route.py). Drawing on the picture (#gp-view canvas.gp-canvas)
// collects the cells of the dissected layer's map under the pointer; while the button is held, the stroke
// so far goes to the stroke route with the brush, action, strength and units read from the tab's controls.
// One request is in flight at a time and the newest stroke wins. The answer is the painted picture (drawn
// into the canvas) and the class pixels before/after (the X-Class-Change header, drawn as a table).
// window.__gp keeps counters (shown frames, pointer-to-shown latencies in ms) for the latency test.
if (!window.__gp) {
  const S = window.__gp = {busy: false, pending: false, first: null, id: Date.now(), cells: null, down: false,
                           shown: 0, lat: [], err: null};
  const q = (sel) => document.querySelector(sel);
  const checked = (id) => { const el = q('#' + id + ' input:checked'); return el ? el.value : null; };
  const range = (id) => { const el = q('#' + id + ' input[type=range]') || q('#' + id + ' input'); return el ? el.value : null; };
  const hex = (cells) => {
    let out = '';
    for (let i = 0; i < S.n; i += 4) {
      let v = 0;
      for (let j = 0; j < 4; j++) v = v * 2 + (cells[i + j] ? 1 : 0);
      out += v.toString(16);
    }
    return out;
  };
  const table = (rows) => rows.map((r) => '<tr><td>' + r['class'] + '</td><td>' + r.before + '</td><td>' + r.after +
      '</td><td>' + (r.change > 0 ? '+' : '') + r.change + '</td></tr>').join('');
  const pump = async () => {
    if (S.busy) { S.pending = true; return; }
    S.busy = true;
    try {
      do {
        S.pending = false;
        const t0 = S.first; S.first = null;
        const cv = q('#gp-view canvas.gp-canvas');
        if (!cv || !S.cells) break;
        const p = new URLSearchParams({t: cv.dataset.token, id: String(S.id), b: checked('gp-brush') || '',
          a: checked('gp-action') || 'add', g: range('gp-strength') || '1', k: range('gp-units') || '6', m: hex(S.cells)});
        const res = await fetch('%(route)s?' + p.toString(), {cache: 'no-store'});
        if (!res.ok) { S.err = await res.text(); const m = q('#gp-view .gp-msg'); if (m) m.textContent = S.err; continue; }
        const change = res.headers.get('X-Class-Change');
        const bmp = await createImageBitmap(await res.blob());
        if (cv.width !== bmp.width || cv.height !== bmp.height) { cv.width = bmp.width; cv.height = bmp.height; }
        cv.getContext('2d').drawImage(bmp, 0, 0);
        bmp.close();
        const body = q('#gp-view tbody.gp-change');
        if (body && change) body.innerHTML = table(JSON.parse(change));
        const m = q('#gp-view .gp-msg'); if (m) m.textContent = '';
        S.shown++;
        if (t0 !== null) S.lat.push(performance.now() - t0);
      } while (S.pending);
    } catch (e) { S.err = String(e); }
    finally { S.busy = false; }
  };
  const mark = (e) => {
    const cv = e.target;
    const gh = +cv.dataset.gh, gw = +cv.dataset.gw, r = cv.getBoundingClientRect();
    const i = Math.floor((e.clientY - r.top) / r.height * gh), j = Math.floor((e.clientX - r.left) / r.width * gw);
    if (i < 0 || j < 0 || i >= gh || j >= gw || S.cells[i * gw + j]) return;
    S.cells[i * gw + j] = 1;
    if (S.first === null) S.first = performance.now();
    pump();
  };
  document.addEventListener('pointerdown', (e) => {
    const cv = e.target;
    if (!cv || !cv.classList || !cv.classList.contains('gp-canvas')) return;
    e.preventDefault();
    S.down = true; S.id += 1;
    S.n = (+cv.dataset.gh) * (+cv.dataset.gw);
    S.cells = new Array(S.n).fill(0);
    mark(e);
  });
  document.addEventListener('pointermove', (e) => {
    if (S.down && e.target && e.target.classList && e.target.classList.contains('gp-canvas')) mark(e);
  });
  document.addEventListener('pointerup', () => { S.down = false; });
}
