// The Train tabs' live views (see app/common/live.py). Bound once per page. For each kind of view ('2d':
// the plane on the Train (2D) tab, 'img': the sample grid on the Train (images) tab) one loop reads the
// live route's stream of frames and draws the newest one it has (see `stream`): nothing queues. The plane is drawn from data (D's verdict
// on a small grid, smoothed up; the points; the manifold; the arrows) with the colours and layer order of
// gan_core/viz/plane.py; the grid arrives as one PNG. Curves are appended point by point and redrawn at
// most CURVE_MS apart. A view that is not on screen is not fetched. Nothing per frame reads the page's
// layout (which would make the browser lay the page out again): the canvases' widths and whether they are
// shown come from a ResizeObserver, the layers asked for from the checkboxes' change events.
// window.__tl keeps counters per kind (frames drawn, frame ages in ms, the steps shown) that
// `bench --live` and the browser tests read.
if (!window.__tl) {
  const ROUTES = {'2d': 'live/2d', img: 'live/img'};
  const LUT_STOPS = [[153, 112, 171], [247, 247, 247], [90, 174, 97]];  // fake, undecided, real
  const REAL = 'rgb(27,120,55)', FAKE = 'rgb(118,42,131)', GRID = 'rgba(40,40,40,0.35)', ARROW = 'rgba(230,97,1,0.9)';
  const S = window.__tl = {hold: {}};  // hold[kind]: stop fetching that view (the live bench's unviewed phase)
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const CURVE_MS = 250;  // the curves and the histogram: redrawn at most 4 times a second, when they changed
  const lut = new Uint8ClampedArray(256 * 3);
  for (let i = 0; i < 256; i++) {
    const x = i / 255, k = x < 0.5 ? 0 : 1, f = x < 0.5 ? x / 0.5 : (x - 0.5) / 0.5;
    for (let c = 0; c < 3; c++) lut[3 * i + c] = LUT_STOPS[k][c] + (LUT_STOPS[k + 1][c] - LUT_STOPS[k][c]) * f;
  }
  const q = (sel) => document.querySelector(sel);
  // the width each watched element has on the page (0: not shown, e.g. on a hidden tab), kept by a
  // ResizeObserver so a frame never asks the browser for layout; an element seen for the first time is
  // measured once
  const widths = new WeakMap();
  const sizes = new ResizeObserver((entries) => { for (const e of entries) widths.set(e.target, e.contentRect.width); });
  const width = (el) => {
    if (!el) return 0;
    if (!widths.has(el)) { widths.set(el, el.offsetParent === null ? 0 : el.clientWidth); sizes.observe(el); }
    return widths.get(el);
  };
  const shown = (el) => width(el) > 0;

  // ----- curves: kept per kind and plot, appended with each frame -------------------------------------
  const curveState = (st, plot) => (st.curves[plot] = st.curves[plot] || {series: {}, title: ''});
  const appendCurves = (st, fr) => {
    const c = fr.curves;
    if (!c) return;
    if (c.reset) st.curves = {};
    let added = c.reset;
    for (const plot of Object.keys(c)) {
      if (plot === 'reset' || plot === 'to') continue;
      const cs = curveState(st, plot);
      if (fr.titles && fr.titles[plot]) cs.title = fr.titles[plot];
      for (const [name, pts] of Object.entries(c[plot])) {
        const arr = cs.series[name] = cs.series[name] || [];
        for (const p of pts) if (!arr.length || p[0] > arr[arr.length - 1][0]) { arr.push(p); added = true; }  // a new run's first frame may repeat points
        if (arr.length > 4000) cs.series[name] = arr.filter((_, i) => i % 2 === 0 || i === arr.length - 1);
      }
    }
    st.since = Math.max(c.reset ? -1 : st.since, c.to);
    if (added) st.curvesRev++;
  };
  const fmt = (v, span) => {
    const a = Math.abs(v);
    if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(1);
    const d = span >= 10 ? 0 : span >= 1 ? 1 : span >= 0.1 ? 2 : 3;
    return v.toFixed(d);
  };
  const drawCurve = (cv, cs, colors, state) => {
    const h = 240, [g, w] = fit(cv, h);
    if (cs && cs.title && cs.title !== cv.dataset.title) { cv.dataset.title = cs.title; fit(cv, h); }
    const series = cs ? Object.entries(cs.series).filter(([, p]) => p.length) : [];
    if (!series.length) {  // the empty state: say why, draw no axes
      g.fillStyle = '#777'; g.textAlign = 'center';
      g.fillText(state === 'running' ? 'waiting for the first measurement…' : 'no steps yet: press Train or a Step button', w / 2, h / 2);
      g.textAlign = 'start';
      return;
    }
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (const [, pts] of series) for (const [x, y] of pts) {
      if (x < x0) x0 = x; if (x > x1) x1 = x; if (y < y0) y0 = y; if (y > y1) y1 = y;
    }
    if (x1 === x0) { x1 = x0 + 1; }
    const nonneg = y0 >= 0;  // counts, shares, distances: no axis below 0
    if (y1 - y0 < 1e-9) { const m = Math.max(Math.abs(y0) * 0.1, 0.5); y0 -= m; y1 += m; }
    const pad = (y1 - y0) * 0.05; y0 -= pad; y1 += pad;
    if (nonneg) y0 = Math.max(y0, 0);
    const L = 48, R = 10, T = 24, B = 22, pw = w - L - R, ph = h - T - B;
    const X = (x) => L + (x - x0) / (x1 - x0) * pw, Y = (y) => T + (1 - (y - y0) / (y1 - y0)) * ph;
    g.strokeStyle = '#ddd'; g.lineWidth = 1; g.fillStyle = '#555'; g.font = '11px sans-serif';
    for (let i = 0; i <= 4; i++) {
      const yv = y0 + (y1 - y0) * i / 4, yy = Math.round(Y(yv)) + 0.5;
      g.beginPath(); g.moveTo(L, yy); g.lineTo(L + pw, yy); g.stroke();
      g.textAlign = 'right'; g.textBaseline = 'middle'; g.fillText(fmt(yv, y1 - y0), L - 4, yy);
    }
    g.textAlign = 'center'; g.textBaseline = 'top';
    for (let i = 0; i <= 4; i++) {  // the end labels keep inside the canvas
      const xv = x0 + (x1 - x0) * i / 4;
      g.textAlign = i === 0 ? 'left' : i === 4 ? 'right' : 'center';
      g.fillText(Math.round(xv).toLocaleString('en'), X(xv), T + ph + 4);
    }
    g.textAlign = 'start';
    for (const [name, pts] of series) {
      g.strokeStyle = g.fillStyle = colors[name] || '#333'; g.lineWidth = 1.5;
      if (pts.length === 1) { g.beginPath(); g.arc(X(pts[0][0]), Y(pts[0][1]), 3, 0, 7); g.fill(); continue; }
      const stride = Math.max(1, Math.floor(pts.length / pw));
      g.beginPath(); g.moveTo(X(pts[0][0]), Y(pts[0][1]));
      for (let i = stride; i < pts.length; i += stride) g.lineTo(X(pts[i][0]), Y(pts[i][1]));
      g.lineTo(X(pts[pts.length - 1][0]), Y(pts[pts.length - 1][1]));
      g.stroke();
    }
  };
  const fit = (cv, h) => {  // the canvas's pixels follow its width on the page
    const dpr = window.devicePixelRatio || 1, w = Math.max(200, width(cv) || 420);
    if (cv.width !== Math.round(w * dpr)) { cv.width = Math.round(w * dpr); cv.height = Math.round(h * dpr); cv.style.height = h + 'px'; }
    const g = cv.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.fillStyle = '#fff'; g.fillRect(0, 0, w, h);
    g.fillStyle = '#333'; g.font = '12px sans-serif'; g.textBaseline = 'top'; g.textAlign = 'start';
    g.fillText(cv.dataset.title || '', 8, 6);
    return [g, w];
  };
  const drawBars = (cv, hist) => {  // the class histogram of the last evaluation
    const h = 240, [g, w] = fit(cv, h);
    const counts = hist && hist.counts;
    if (!counts || !counts.length) {
      g.fillStyle = '#777'; g.textAlign = 'center';
      g.fillText(hist && hist.evaluator === null ? 'no evaluator for these images' : 'no evaluation yet: it runs every few hundred steps', w / 2, h / 2);
      return;
    }
    const top = Math.max(1, ...counts), L = 40, B = 22, T = 24, pw = w - L - 10, ph = h - T - B, bw = pw / counts.length;
    g.fillStyle = '#555'; g.font = '11px sans-serif'; g.textAlign = 'right'; g.textBaseline = 'middle';
    for (let i = 0; i <= 4; i++) { const v = top * i / 4, y = T + ph - ph * i / 4; g.fillText(String(Math.round(v)), L - 4, y);
      g.strokeStyle = '#ddd'; g.beginPath(); g.moveTo(L, Math.round(y) + 0.5); g.lineTo(L + pw, Math.round(y) + 0.5); g.stroke(); }
    g.textAlign = 'center'; g.textBaseline = 'top';
    for (let i = 0; i < counts.length; i++) {
      const bh = ph * counts[i] / top;
      g.fillStyle = '#5e3c99'; g.fillRect(L + i * bw + 2, T + ph - bh, Math.max(1, bw - 4), bh);
      g.fillStyle = '#555'; g.fillText(String((hist.names || [])[i] ?? i), L + (i + 0.5) * bw, T + ph + 4);
    }
  };
  // curves and bars are redrawn when they changed (new points, another run, another state or histogram,
  // a new or resized canvas), at most CURVE_MS apart: a change that comes sooner is drawn when that is up
  const drawCurves = (kind, st, fr) => {
    st.lastFrame = fr;
    const state = fr ? fr.state : 'idle', now = performance.now();
    const wait = CURVE_MS - (now - st.curvesAt);
    let drew = false, later = false;
    for (const cv of document.querySelectorAll(`canvas.tl-curve[data-kind="${kind}"]`)) {
      const w = width(cv), stamp = `${st.curvesRev}|${state}|${w}`;
      if (w <= 0 || cv.__tlDrawn === stamp) continue;
      if (wait > 0 && cv.__tlDrawn !== undefined) { later = true; continue; }
      drawCurve(cv, st.curves[cv.dataset.plot], st.colors, state); cv.__tlDrawn = stamp; drew = true;
    }
    if (drew) st.curvesAt = now;
    if (later && !st.curveTimer) {
      st.curveTimer = setTimeout(() => { st.curveTimer = null; drawCurves(kind, st, st.lastFrame); }, wait);
    }
    for (const cv of document.querySelectorAll(`canvas.tl-bars[data-kind="${kind}"]`)) {
      const w = width(cv), stamp = `${st.histRev}|${w}`;
      if (w > 0 && cv.__tlDrawn !== stamp) { drawBars(cv, st.hist); cv.__tlDrawn = stamp; }
    }
  };

  // ----- the plane ---------------------------------------------------------------------------------------
  const heatCanvas = document.createElement('canvas');
  let heatImage = null;  // the ImageData the heat map is written into (kept while its size holds)
  const drawPlane = (cv, fr) => {
    const g = cv.getContext('2d'), W = cv.width, ext = fr.extent, s = W / (2 * ext);
    const px = (x) => (x + ext) * s, py = (y) => (ext - y) * s;
    const A = fr.arrays;
    if (A.heat) {
      const n = A.heat.shape[0], v = A.heat.v, hg = heatCanvas.getContext('2d');
      if (!heatImage || heatImage.width !== n) { heatCanvas.width = heatCanvas.height = n; heatImage = hg.createImageData(n, n); }
      const d = heatImage.data;
      for (let i = 0; i < n * n; i++) {
        const k = 3 * v[i]; d[4 * i] = lut[k]; d[4 * i + 1] = lut[k + 1]; d[4 * i + 2] = lut[k + 2]; d[4 * i + 3] = 255;
      }
      hg.putImageData(heatImage, 0, 0);
      // bilinear, as gan_core/viz/plane.py smooths it; 'high' (bicubic) cost the browser about 5 ms more
      // of CPU per frame on the 2-core machine, for a difference the eye does not see on a smooth surface
      g.imageSmoothingEnabled = true; g.imageSmoothingQuality = 'low';
      g.drawImage(heatCanvas, 0, 0, W, W);
    } else { g.fillStyle = '#fff'; g.fillRect(0, 0, W, W); }
    g.lineWidth = 1;
    for (let v = Math.ceil(-ext); v <= Math.floor(ext); v++) {  // the axes and unit lines
      g.strokeStyle = v === 0 ? 'rgba(0,0,0,0.25)' : 'rgba(0,0,0,0.1)';
      const k = Math.round(px(v)) + 0.5;
      g.beginPath(); g.moveTo(k, 0); g.lineTo(k, W); g.moveTo(0, W - k); g.lineTo(W, W - k); g.stroke();
    }
    if (A.manifold) {
      const [lines, P] = A.manifold.shape, v = A.manifold.v;
      g.strokeStyle = GRID; g.beginPath();
      for (let l = 0; l < lines; l++) {
        for (let p = 0; p < P; p++) {
          const i = 2 * (l * P + p), x = v[i], y = v[i + 1];
          if (!isFinite(x) || !isFinite(y)) continue;
          if (p === 0) g.moveTo(px(x), py(y)); else g.lineTo(px(x), py(y));
        }
      }
      g.stroke();
    }
    const dots = (v, colour, r) => {
      if (!v) return;
      g.fillStyle = colour; g.beginPath();
      for (let i = 0; i < v.length; i += 2) {
        if (!isFinite(v[i]) || !isFinite(v[i + 1])) continue;
        const x = px(v[i]), y = py(v[i + 1]); g.moveTo(x + r, y); g.arc(x, y, r, 0, 2 * Math.PI);
      }
      g.fill();
    };
    dots(A.real && A.real.v, REAL, 2.5);
    dots(A.fake && A.fake.v, FAKE, 2.5);
    if (A.arrows) {
      const v = A.arrows.v, ends = [];
      g.strokeStyle = ARROW; g.beginPath();
      for (let i = 0; i < v.length; i += 4) {
        if (!isFinite(v[i] + v[i + 1] + v[i + 2] + v[i + 3])) continue;
        g.moveTo(px(v[i]), py(v[i + 1])); g.lineTo(px(v[i + 2]), py(v[i + 3])); ends.push(v[i + 2], v[i + 3]);
      }
      g.stroke();
      dots(ends, ARROW, 1.5);
    }
  };
  // the layers asked for: read from the checkboxes when one changes (and once a second, in case the page
  // redrew them), with textContent, which needs no layout
  let layersRead = null, layersAt = 0;
  document.addEventListener('change', (e) => { if (e.target.closest && e.target.closest('#layers')) layersRead = null; }, true);
  const layersWanted = () => {
    if (layersRead !== null && performance.now() - layersAt < 1000) return layersRead;
    const boxes = document.querySelectorAll('#layers input[type=checkbox]');
    const names = [];
    for (const b of boxes) {
      if (!b.checked) continue;
      const label = b.closest('label');
      const name = (b.value && b.value !== 'on' ? b.value : (label ? label.textContent : '')).trim();
      if (name) names.push(name);
    }
    layersAt = performance.now();
    return (layersRead = boxes.length ? names.join(',') : 'heatmap,real,fake');
  };

  // ----- the image grid ---------------------------------------------------------------------------------
  const drawGrid = async (cv, fr) => {
    if (!fr.arrays.grid) return false;
    const img = await createImageBitmap(new Blob([fr.arrays.grid.v], {type: 'image/png'}));  // off the main thread
    const scale = Math.max(1, Math.floor(512 / Math.max(img.width, img.height)));
    const w = img.width * scale, h = img.height * scale;
    if (cv.width !== w || cv.height !== h) { cv.width = w; cv.height = h; cv.style.width = w + 'px'; }
    const g = cv.getContext('2d');
    g.imageSmoothingEnabled = false;
    g.drawImage(img, 0, 0, w, h);
    img.close();
    return true;
  };

  // a frame: uint32 header length, JSON header, then the arrays it lists (float32, float16, then uint8)
  const half = (u) => {  // an IEEE half's bits -> number (for browsers without Float16Array)
    const e = (u >> 10) & 31, m = u & 1023, s = u >> 15 ? -1 : 1;
    return e === 0 ? s * m * 2 ** -24 : e === 31 ? (m ? NaN : s * Infinity) : s * (1 + m / 1024) * 2 ** (e - 15);
  };
  const halves = (buf, off, count) => {
    if (typeof Float16Array !== 'undefined') return new Float16Array(buf, off, count);
    const u = new Uint16Array(buf, off, count), f = new Float32Array(count);
    for (let i = 0; i < count; i++) f[i] = half(u[i]);
    return f;
  };
  const parse = (buf) => {
    const n = new DataView(buf).getUint32(0, true), base = 4 + n;
    const fr = JSON.parse(new TextDecoder().decode(new Uint8Array(buf, 4, n)));
    const a = {};
    for (const [k, [dt, off, shape]] of Object.entries(fr.arrays || {})) {
      const count = shape.reduce((x, y) => x * y, 1);
      a[k] = {shape, v: dt === 'f4' ? new Float32Array(buf, base + off, count)
        : dt === 'f2' ? halves(buf, base + off, count) : new Uint8Array(buf, base + off, count)};
    }
    fr.arrays = a;
    return fr;
  };

  // ----- the loop -------------------------------------------------------------------------------------
  // One stream per view (`<route>/stream`): the server sends each new frame (at most 24 a second) as a
  // uint32 length and the frame, and an empty message every 2 s when nothing is new. Of what has arrived
  // the newest complete frame is drawn and older ones are dropped, never drawn late. The stream is closed
  // (and opened again with the page's state) when the view is hidden or held, its token or layers change.
  const fresh = () => ({frames: 0, ages: [], steps: [], err: null, frame: -1, since: -1, run: 0, token: null,
                        layers: null, curves: {}, colors: {}, state: 'idle', drawnAt: [], dropped: 0,
                        curvesRev: 0, histRev: 0, curvesAt: -1e9, curveTimer: null, lastFrame: null,  // see drawCurves
                        fetchMs: [], drawMs: [], serverMs: [], waitMs: []});
  // the newest complete frame in `chunks` (byte arrays read so far) as its own ArrayBuffer, or null; what
  // follows it (an incomplete message) stays in `chunks`
  const newest = (st, chunks) => {
    let size = 0;
    for (const c of chunks) size += c.length;
    const all = chunks.length === 1 ? chunks[0] : new Uint8Array(size);
    if (chunks.length > 1) { let o = 0; for (const c of chunks) { all.set(c, o); o += c.length; } }
    const dv = new DataView(all.buffer, all.byteOffset, all.byteLength);
    let off = 0, last = null;
    while (size - off >= 4) {
      const n = dv.getUint32(off, true);
      if (size - off - 4 < n) break;
      if (n > 0) { if (last) st.dropped++; last = [off + 4, n]; }
      off += 4 + n;
    }
    chunks.length = 0;
    if (off < size) chunks.push(all.subarray(off));
    return last ? all.slice(last[0], last[0] + last[1]).buffer : null;
  };
  const show = async (kind, st, fr, t1, t2) => {
    st.frame = fr.frame; st.run = fr.run; st.state = fr.state;
    if (fr.colors) Object.assign(st.colors, fr.colors);
    if (fr.hist && JSON.stringify(fr.hist) !== JSON.stringify(st.hist)) { st.hist = fr.hist; st.histRev++; }
    appendCurves(st, fr);
    const view = q(`canvas.tl-view[data-kind="${kind}"]`);
    if (view) {
      if (kind === '2d') drawPlane(view, fr);
      else if (await drawGrid(view, fr)) st.gridStep = fr.grid_step;
    }
    drawCurves(kind, st, fr);
    const msg = q(`.tl-msg[data-kind="${kind}"]`);
    if (msg && msg.textContent) msg.textContent = '';
    st.fetchMs.push(t2 - t1); st.drawMs.push(performance.now() - t2); st.serverMs.push(fr.server_ms); st.waitMs.push(fr.wait_ms);
    st.frames++; st.steps.push(fr.step); st.ages.push(Date.now() - fr.t_ms); st.drawnAt.push(performance.now());
    if (st.ages.length > 2000) for (const key of ['ages', 'steps', 'drawnAt', 'fetchMs', 'drawMs', 'serverMs', 'waitMs']) st[key].splice(0, 1000);
  };
  const stream = async (kind) => {
    const st = S[kind];
    for (;;) {
      const cv = q(`canvas.tl-view[data-kind="${kind}"]`);
      if (S.hold[kind] || !shown(cv) || !cv.dataset.token) { await sleep(100); continue; }
      if (cv.dataset.token !== st.token) {  // a new page or a new slot: start again
        st.token = cv.dataset.token; st.frame = -1; st.since = -1; st.curves = {}; st.curvesRev++;
      }
      if (cv !== st.canvas) { st.canvas = cv; st.frame = -1; }  // a new canvas (the page redrew it) is empty
      const p = new URLSearchParams({t: st.token, f: String(st.frame), s: String(st.since), run: String(st.run)});
      if (kind === '2d') {
        const layers = layersWanted();
        if (layers !== st.layers) { st.layers = layers; p.set('f', '-1'); }
        p.set('layers', layers);
      } else if (st.gridStep !== undefined) { p.set('g', String(st.gridStep)); }
      const ctl = new AbortController(), token = st.token;
      const stale = () => S.hold[kind] || !shown(cv) || cv.dataset.token !== token || !cv.isConnected
        || (kind === '2d' && layersWanted() !== st.layers);
      const watch = setInterval(() => { if (stale()) ctl.abort(); }, 100);
      try {
        const res = await fetch(ROUTES[kind] + '/stream?' + p.toString(), {cache: 'no-store', signal: ctl.signal});
        const msg = q(`.tl-msg[data-kind="${kind}"]`);
        if (!res.ok) {
          st.err = await res.text();
          if (msg) msg.textContent = 'Live view: ' + st.err;
          await sleep(1000); continue;
        }
        const reader = res.body.getReader(), chunks = [];
        let t1 = performance.now();
        for (;;) {
          const {value, done} = await reader.read();
          if (done) break;
          chunks.push(value);
          const buf = newest(st, chunks);
          if (!buf) continue;
          // a stream's frames come in order: each is newer, of a new run, or a grid the visitor chose
          await show(kind, st, parse(buf), t1, performance.now());
          t1 = performance.now();
        }
      } catch (e) {
        if (e.name !== 'AbortError') { st.err = String(e); await sleep(1000); }
      } finally { clearInterval(watch); }
    }
  };
  // one frame now, without drawing it: {step, t_ms} (the live bench reads training's pace with it)
  S.probe = async (kind) => {
    const cv = q(`canvas.tl-view[data-kind="${kind}"]`);
    const res = await fetch(ROUTES[kind] + '?' + new URLSearchParams({t: cv.dataset.token, f: '-1', s: '1000000000'}), {cache: 'no-store'});
    const fr = parse(await res.arrayBuffer());
    return {step: fr.step, t_ms: fr.t_ms, state: fr.state};
  };
  const guard = (kind) => stream(kind).catch((e) => { S[kind].err = String(e); setTimeout(() => guard(kind), 1000); });
  for (const kind of Object.keys(ROUTES)) {
    S[kind] = fresh();
    guard(kind);
  }
}
