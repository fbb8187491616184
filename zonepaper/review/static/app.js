// zonepaper review: keyboard-first field, batch and quarantine screens. No libraries, no network but this server.
"use strict";
(function () {
  const boot = JSON.parse(document.getElementById("boot").textContent);
  const $ = (id) => document.getElementById(id);
  const text = boot.text || {};
  const MIN_SHOWN_MS = 300;  // an item cannot be decided before its crop has been on screen this long
  let frozen = !!boot.frozen;  // the draw's inputs are frozen: nothing can be saved, nothing typed is lost

  async function call(method, url, body) {
    const opts = { method, headers: { "X-CSRF-Token": boot.csrf }, credentials: "same-origin" };
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(url, opts);
    } catch (err) {
      return { ok: false, status: 0, data: { error: text["error.server"] } };
    }
    if (res.status === 401) { window.location.href = "/login"; }
    let data = {};
    try { data = await res.json(); } catch (err) { data = {}; }
    return { ok: res.ok, status: res.status, data };
  }

  function say(message) {
    const s = $("status");
    if (s) { s.textContent = message || ""; }
  }
  function problem(message) {
    const p = $("problem");
    if (p) { p.textContent = message || ""; }
  }
  // Leases: items stay this person's while the page is open and in use (a key or a click in the last
  // few minutes); renewed well before they would run out.
  let lastActivity = Date.now();
  for (const kind of ["keydown", "mousedown", "input"]) {
    document.addEventListener(kind, () => { lastActivity = Date.now(); }, true);
  }
  function keepClaims(ids, onLost) {
    setInterval(async () => {
      const held = ids();
      if (!held.length || Date.now() - lastActivity > 180000) { return; }
      const r = await call("POST", "/api/renew", { items: held });
      if (r.ok && r.data.lost.length) { onLost(new Set(r.data.lost)); }
    }, 45000);
  }
  let mine = 0;  // this person's decisions today
  function progress(left) {
    return text["item.left"].replace("{left}", String(left)).replace("{mine}", String(mine));
  }
  function preload(items) {
    for (const it of items) { if (it.image) { const img = new Image(); img.src = it.image; } }
  }

  // ---------------- field mode: one item at a time ----------------
  function fieldMode() {
    let queue = [];      // items claimed for me, the first one on screen
    let left = 0;
    let busy = false;
    let loading = false;
    let shownAt = 0;
    const done = new Set();  // decided here: never shown again by a refill that crossed the decision
    const input = $("value");
    input.readOnly = frozen;

    function show() {
      const it = queue[0];
      if ($("crop-box")) { $("crop-box").style.transform = ""; }
      $("card").hidden = !it;
      $("empty").hidden = !!it || loading || busy;  // "nothing left" only when it is true
      shownAt = performance.now();
      if (!it) { say(""); return; }
      $("label").textContent = it.label;
      $("serial").textContent = it.serial;
      const img = $("crop");
      if (it.image) { img.src = it.image; img.hidden = false; } else { img.hidden = true; }
      $("why").textContent = it.why.join(" · ");
      $("hint").textContent = it.hint;
      input.value = it.value;
      input.dataset.kind = it.kind;
      drawBubbles(it);
      problem(it.problem || (it.status === "confirmed" ? text["item.back_to"] : ""));
      const written = $("as-written");
      if (written) { written.hidden = !it.asWritten; }
      say(progress(Math.max(left, queue.length)));
      input.focus();
      input.select();
    }

    // choices: the grid's bubbles can be clicked; the input keeps program numbers in rank order
    function chosen() { return input.value.trim().split(/[\s,;]+/).filter(Boolean); }
    function markBubbles() {
      const nums = chosen();
      for (const b of document.querySelectorAll("#bubbles button")) {
        b.classList.toggle("on", nums[Number(b.dataset.rank) - 1] === b.dataset.program);
      }
    }
    function clickBubble(program, rank) {
      const nums = chosen();
      if (nums[rank - 1] === program) {
        nums.splice(rank - 1, 1);               // clicked again: taken out
      } else {
        const was = nums.indexOf(program);
        if (was >= 0) { nums.splice(was, 1); }  // a program is in one rank only
        if (rank - 1 < nums.length) { nums[rank - 1] = program; } else { nums.push(program); }
      }
      input.value = nums.join(" ");
      markBubbles();
      input.focus();
    }
    function drawBubbles(it) {
      const layer = $("bubbles");
      layer.textContent = "";
      $("crop-box").classList.toggle("choices", it.bubbles.length > 0);
      for (const b of it.bubbles) {
        const btn = document.createElement("button");
        btn.type = "button";
        btn.tabIndex = -1;
        btn.dataset.program = String(b.program);
        btn.dataset.rank = String(b.rank);
        btn.title = b.program + " → " + b.rank;
        btn.style.left = b.left + "%";
        btn.style.top = b.top + "%";
        btn.style.width = b.width + "%";
        btn.style.height = b.height + "%";
        btn.addEventListener("click", () => clickBubble(String(b.program), b.rank));
        layer.append(btn);
      }
      markBubbles();
    }
    input.addEventListener("input", markBubbles);

    async function refill() {
      loading = true;
      const r = await call("GET", "/api/items?n=3");
      loading = false;
      if (!r.ok) { problem(r.data.error); return; }
      left = r.data.left;
      mine = r.data.mine;
      const have = new Set(queue.map((i) => i.id));
      for (const it of r.data.items) {
        if (!have.has(it.id) && !(done.has(it.id) && it.status === "review")) { queue.push(it); }
      }
      preload(queue.slice(1));
      if (queue.length && $("card").hidden) { show(); }
      if (!queue.length) { show(); }
    }

    // A refused decision comes back as the next item, with its reason and what was typed: the item
    // on screen, and what is being typed into it, stay where they are.
    function comeBack(it, value, why, asWritten) {
      it.problem = why;
      it.value = value;
      it.asWritten = !!asWritten;
      if (queue.length) { queue.splice(1, 0, it); say(why); } else { queue.unshift(it); show(); }
    }

    async function decide(action) {
      const it = queue[0];
      if (!it || busy) { return; }
      if (frozen) { problem(text["app.frozen"]); return; }
      if (performance.now() - shownAt < MIN_SHOWN_MS) { return; }  // not seen yet: a double press
      busy = true;
      const value = action === "accept" || action === "as_written" ? input.value : null;
      queue.shift();
      done.add(it.id);
      show();                      // the next item appears at once; the decision is saved meanwhile
      const r = await call("POST", "/api/decide", { decisions: [{ id: it.id, version: it.version, action, value }] });
      busy = false;
      if (!r.ok) { done.delete(it.id); } else if (action !== "skip") { mine += 1; }
      if (!r.ok) {
        if (r.status === 422) {    // the value cannot be stored: the item comes back with the reason
          comeBack(it, value, r.data.error, r.data.as_written);
          return;
        }
        if (r.data.code === "draw.frozen") {  // frozen meanwhile: the item stays on screen with what was typed
          frozen = true;
          it.problem = r.data.error;
          queue.unshift(it);
          show();
          if (value !== null) { input.value = value; }
          input.readOnly = true;
          return;
        }
        say(r.data.error);
      }
      if (queue.length < 2) { refill(); }
    }

    function reopened(item) {
      done.delete(item.id);
      queue = queue.filter((i) => i.id !== item.id);
      queue.unshift(item);
      $("recent").hidden = true;
      show();
    }

    // F4: this person's recent decisions; a number key (or a click) opens one again
    async function back() {
      const list = $("recent");
      if (!list.hidden) { list.hidden = true; input.focus(); return; }
      const r = await call("GET", "/api/recent");
      if (!r.ok) { problem(r.data.error); return; }
      list.textContent = "";
      r.data.items.slice(0, 9).forEach((item, n) => {
        const b = document.createElement("button");
        b.type = "button";
        b.dataset.item = String(item.id);
        b.textContent = (n + 1) + ". " + item.serial + " · " + item.label + ": " + (item.value || "—");
        b.addEventListener("click", () => reopen(item.id));
        const li = document.createElement("li");
        li.append(b);
        list.append(li);
      });
      list.hidden = r.data.items.length === 0;
    }
    async function reopen(id) {
      const r = await call("POST", "/api/reopen", { item: id });
      if (!r.ok) { problem(r.data.error); return; }
      reopened(r.data.item);
    }
    keepClaims(() => queue.map((i) => i.id), (lost) => {
      const it = queue[0];
      queue = queue.filter((i) => !lost.has(i.id));
      if (it && lost.has(it.id)) { show(); say(text["item.lost"].replace("{value}", input.value)); }
    });

    const actions = {
      Enter: () => decide("accept"), F2: () => decide("illegible"), F3: () => decide("skip"), F4: back,
      F6: () => { if (queue[0] && queue[0].page) { window.open("/form/" + queue[0].page, "_blank"); } },
      Escape: () => { if (queue[0]) { input.value = queue[0].value; input.select(); problem(""); } },
    };
    let zoom = 1;
    function setZoom(z) {  // a larger look at the handwriting (Alt + and Alt -)
      zoom = Math.min(3, Math.max(1, z));
      $("crop-box").style.transform = zoom === 1 ? "" : "scale(" + zoom + ")";
      $("crop-box").style.transformOrigin = "top center";
    }
    document.addEventListener("keydown", (ev) => {
      if (ev.key === "?") { ev.preventDefault(); $("help-overlay").hidden = !$("help-overlay").hidden; return; }
      if (ev.altKey && (ev.key === "+" || ev.key === "=")) { ev.preventDefault(); setZoom(zoom + 0.5); return; }
      if (ev.altKey && ev.key === "-") { ev.preventDefault(); setZoom(zoom - 0.5); return; }
      const list = $("recent");
      if (!list.hidden && /^[1-9]$/.test(ev.key)) {
        const b = list.querySelectorAll("button")[Number(ev.key) - 1];
        if (b) { ev.preventDefault(); reopen(Number(b.dataset.item)); return; }
      }
      const fn = actions[ev.key];
      if (fn && !ev.ctrlKey && !ev.altKey && !ev.metaKey) {
        ev.preventDefault();
        if (!ev.repeat) { fn(); }  // a key held down never decides
      }
    });
    $("decide").addEventListener("submit", (ev) => { ev.preventDefault(); });
    const written = $("as-written");
    if (written) { written.addEventListener("click", () => { shownAt = 0; decide("as_written"); }); }
    for (const b of document.querySelectorAll("[data-key]")) {
      b.addEventListener("click", () => { const fn = actions[b.dataset.key === "Esc" ? "Escape" : b.dataset.key]; if (fn) { fn(); } });
    }
    refill();
  }

  // ---------------- batch mode: the same field of many forms ----------------
  function batchMode() {
    let items = [];
    const grid = $("grid");
    // each cell as wide as its crop needs for the handwriting to be about 30 px tall
    grid.style.gridTemplateColumns = "repeat(auto-fill, minmax(" + (boot.cell || 320) + "px, 1fr))";

    function render() {
      grid.textContent = "";
      $("empty").hidden = items.length > 0;
      $("accept-page").hidden = $("illegible-cell").hidden = items.length === 0;
      items.forEach((it, n) => {
        const card = document.createElement("div");
        card.className = "cell";
        card.dataset.id = it.id;
        const img = document.createElement("img");
        img.alt = "";
        if (it.image) { img.src = it.image; }
        const meta = document.createElement("p");
        meta.className = "meta";
        meta.textContent = it.serial + " · " + it.why.join(" · ");
        const input = document.createElement("input");
        input.value = it.value;
        input.spellcheck = false;
        input.autocomplete = "off";
        input.setAttribute("aria-label", it.label + " " + it.serial);
        input.addEventListener("keydown", (ev) => {
          if (ev.key === "Enter" && !ev.ctrlKey) {
            ev.preventDefault();
            const next = grid.querySelectorAll("input")[n + 1];
            if (next) { next.focus(); next.select(); }
          } else if (ev.key === "F2") {
            ev.preventDefault();
            card.classList.toggle("illegible");
          }
        });
        input.addEventListener("focus", () => { focused = card; });
        const why = document.createElement("p");
        why.className = "why-bad error";
        card.append(img, meta, input, why);
        grid.append(card);
      });
      const first = grid.querySelector("input");
      if (first) { first.focus(); first.select(); }
    }

    async function load() {
      const r = await call("GET", "/api/items?n=" + boot.size + "&field=" + encodeURIComponent(boot.field || ""));
      if (!r.ok) { problem(r.data.error); return; }
      items = r.data.items;
      mine = r.data.mine;
      say(progress(r.data.left));
      render();
    }

    async function acceptPage() {
      if (!items.length) { return; }
      const cells = grid.querySelectorAll(".cell");
      const decisions = items.map((it, n) => {
        const illegible = cells[n].classList.contains("illegible");
        return { id: it.id, version: it.version, action: illegible ? "illegible" : "accept",
                 value: illegible ? null : cells[n].querySelector("input").value };
      });
      if (frozen) { problem(text["app.frozen"]); return; }
      const r = await call("POST", "/api/decide", { decisions });
      if (!r.ok && (r.data.code === "not_yours" || r.data.code === "conflict") && r.data.item) {
        // another reviewer has that one now: it leaves this page, its typed value is shown, the rest is saved
        const n = items.findIndex((it) => it.id === r.data.item);
        if (n >= 0) {
          const typed = cells[n].querySelector("input").value;
          items.splice(n, 1);
          cells[n].remove();
          lostNotes.push(text["item.lost"].replace("{value}", typed));
          return acceptPage();
        }
      }
      if (!r.ok) {
        problem(r.data.error);
        for (const c of grid.querySelectorAll(".cell")) {
          c.classList.remove("bad");
          c.querySelector(".why-bad").textContent = "";
        }
        for (const p of r.data.problems || [{ item: r.data.item, error: r.data.error }]) {
          const cell = grid.querySelector('.cell[data-id="' + p.item + '"]');
          if (cell) { cell.classList.add("bad"); cell.querySelector(".why-bad").textContent = p.error; }
        }
        const bad = grid.querySelector(".cell.bad");
        if (bad) { const i = bad.querySelector("input"); i.focus(); i.select(); }
        if (r.data.code === "draw.frozen") { frozen = true; return; }  // what was typed stays on the page
        if (r.status !== 422) { load(); }
        return;
      }
      problem(lostNotes.join(" "));
      lostNotes = [];
      say(text["item.saved"]);
      load();
    }
    let lostNotes = [];
    keepClaims(() => items.map((i) => i.id), (lost) => {
      for (const cell of grid.querySelectorAll(".cell")) {
        if (lost.has(Number(cell.dataset.id))) { cell.classList.add("bad"); }
      }
    });

    document.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && ev.ctrlKey) { ev.preventDefault(); if (!ev.repeat) { acceptPage(); } }
    });
    $("accept-page").addEventListener("click", acceptPage);
    let focused = null;  // the cell the F2 button marks: the last one typed in
    $("illegible-cell").addEventListener("click", () => {
      if (!focused || !focused.isConnected) { return; }
      focused.classList.toggle("illegible");
      focused.querySelector("input").focus();
    });
    const pick = $("field-pick");
    if (pick) { pick.addEventListener("change", () => pick.form.submit()); }
    load();
  }

  // ---------------- quarantine: a coordinator resolves one page ----------------
  function quarantineMode() {
    for (const b of document.querySelectorAll(".q-action")) {
      b.addEventListener("click", async () => {
        const serial = $("q-serial") ? $("q-serial").value : "";
        const reason = $("q-reason") ? $("q-reason").value : "";
        const r = await call("POST", "/api/quarantine", { page: boot.page, action: b.dataset.action, serial, reason });
        if (!r.ok) { problem(r.data.error); return; }
        if (r.data.resolution.action === "now_duplicate") { window.location.reload(); return; }  // beside the first
        window.location.href = "/quarantine";
      });
    }
  }

  if (boot.mode === "field") { fieldMode(); }
  if (boot.mode === "batch") { batchMode(); }
  if (boot.mode === "quarantine") { quarantineMode(); }
  if (boot.mode === "form") {  // a coordinator opens a field again (a family called to correct it)
    for (const b of document.querySelectorAll(".reopen")) {
      b.addEventListener("click", async () => {
        const r = await call("POST", "/api/reopen", { item: Number(b.dataset.item) });
        if (!r.ok) { problem(r.data.error); return; }
        window.location.href = "/field";
      });
    }
  }
  if (boot.mode === "dashboard") { setTimeout(() => window.location.reload(), 15000); }
})();
