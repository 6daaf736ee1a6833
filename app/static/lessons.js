// The lesson player's page script (see app/tabs/lessons/). Bound once per page. window.__lessons.run(ops)
// plays a step's moves as a user would: open a tab, choose in a menu, set a slider, press a button, open
// an accordion; each move waits for its element (up to 20 s) and for the page to settle. probe() reads the
// text the current step waits for. follow(name) starts a lesson in this page's own session (the teacher's
// "start for the class" or "present alone"). A cheap poll of the lessons/board route (every 5 s, no
// Gradio queue) notices a lesson the teacher started for the class. window.__lessons.log keeps what ran.
if (!window.__lessons) {
  const L = window.__lessons = {probeSel: '', log: [], busy: false, errors: [], boardSeen: null};
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const q = (sel) => document.querySelector(sel);
  const norm = (s) => (s || '').replace(/\s+/g, ' ').trim();

  const tabButton = (title) => [...document.querySelectorAll('[role=tab]')].find((b) => norm(b.innerText) === title);
  const panelOf = (title) => {
    const b = tabButton(title);
    const id = b && b.getAttribute('aria-controls');
    return (id && document.getElementById(id)) || document;
  };
  const byLabel = (root, text) => {
    const spans = [...root.querySelectorAll('label, span, [data-testid=block-info]')];
    const hit = spans.find((s) => norm(s.innerText) === text && s.closest('.block'));
    return hit ? hit.closest('.block') : null;
  };
  const find = (op) => {
    if (op.sel.startsWith('label:')) return byLabel(panelOf(op.tab), op.sel.slice(6));
    return q(op.sel);
  };
  const waitFor = async (get, ms = 20000) => {
    const t0 = performance.now();
    for (;;) {
      const x = get();
      if (x) return x;
      if (performance.now() - t0 > ms) return null;
      await sleep(100);
    }
  };
  const settle = async () => {  // until no component shows Gradio's pending overlay (at most 20 s)
    await sleep(250);
    await waitFor(() => document.querySelectorAll('.pending, .generating').length === 0 || null, 20000);
  };
  const fire = (el, type) => el.dispatchEvent(new Event(type, {bubbles: true}));

  const choose = async (root, op) => {
    if (op.kind === 'radio') {
      const want = op.label.toLowerCase();
      const lab = [...root.querySelectorAll('label')].find((l) => norm(l.innerText).toLowerCase().startsWith(want));
      if (!lab) throw new Error(`no choice "${op.label}" in ${op.name}`);
      const inp = lab.querySelector('input') || lab;
      inp.click();
      return;
    }
    const inp = root.querySelector('input');
    inp.focus(); fire(inp, 'focus'); inp.click();
    const match = (li) => {
      const t = norm(li.innerText).replace(/^✓\s*/, ''), v = li.getAttribute('data-value') || '';
      return op.prefix ? (t.startsWith(op.label) || v.startsWith(op.label)) : (t === op.label || v === op.label);
    };
    const li = await waitFor(() => [...document.querySelectorAll('ul.options li, [role=option]')].find(match), 5000);
    if (!li) { inp.blur(); throw new Error(`no choice "${op.label}" in ${op.name}`); }
    li.dispatchEvent(new MouseEvent('mousedown', {bubbles: true}));
    inp.blur();
  };
  const setValue = (root, op) => {
    const range = root.querySelector('input[type=range]');
    const num = root.querySelector('input[type=number]') || root.querySelector('textarea, input[type=text]');
    for (const el of [range, num]) {
      if (!el) continue;
      el.value = op.value; fire(el, 'input'); fire(el, 'change');
    }
    if (range) { range.dispatchEvent(new PointerEvent('pointerup', {bubbles: true})); fire(range, 'mouseup'); }
    if (num) fire(num, 'blur');
  };
  const expand = (root) => {
    const head = root.querySelector('button.label-wrap, .label-wrap') || root.querySelector('button');
    const open = root.querySelector('.label-wrap.open') || head.getAttribute('aria-expanded') === 'true';
    if (!open && head) head.click();
  };

  // a step's moves run after the previous step's (Next pressed twice quickly plays both in order)
  let queue = Promise.resolve(), pending = 0;
  L.run = (ops, probeSel) => {
    pending += 1;
    L.busy = true;
    queue = queue.then(() => play(ops, probeSel)).finally(() => {
      pending -= 1;
      L.busy = pending > 0;
    });
    return queue;
  };
  const play = async (ops, probeSel) => {
    L.probeSel = probeSel || '';
    try {
      for (const op of ops || []) {
        if (op.op === 'tab') {
          const b = await waitFor(() => tabButton(op.title));
          if (!b) throw new Error(`no tab "${op.title}"`);
          b.click();
          await sleep(400);
        } else {
          const root = await waitFor(() => find(op));
          if (!root) throw new Error(`${op.name} is not on the page`);
          if (op.op === 'click') (root.tagName === 'BUTTON' ? root : root.querySelector('button') || root).click();
          else if (op.op === 'choose') await choose(root, op);
          else if (op.op === 'set') setValue(root, op);
          else if (op.op === 'expand') expand(root);
        }
        L.log.push(op.op + ' ' + (op.name || op.title));
        await settle();
      }
    } catch (e) {
      L.errors.push(String(e.message || e));
    }
  };
  L.probe = () => {
    if (L.busy) return '\u0000busy';  // the stage is still being set
    if (!L.probeSel) return '';
    const el = q(L.probeSel);
    return el ? norm(el.innerText || el.textContent) : '';
  };
  L.follow = (name) => {
    const box = q('#lesson-follow-name textarea, #lesson-follow-name input');
    const go = q('#lesson-follow-go');
    if (!box || !go || !name) return;
    box.value = name; fire(box, 'input');
    setTimeout(() => go.click(), 100);
  };
  const poll = async () => {
    try {
      const r = await fetch('lessons/board', {cache: 'no-store'});
      if (r.ok) {
        const b = await r.json();
        if (L.boardSeen === null) L.boardSeen = b.fresh ? b.v - 1 : b.v;  // a start in the last minutes counts
        if (b.v > L.boardSeen && b.lesson) { L.boardSeen = b.v; L.follow(b.lesson); }
      }
    } catch (e) { /* the server restarts: try again later */ }
    setTimeout(poll, 5000);
  };
  setTimeout(poll, 1500);
}
