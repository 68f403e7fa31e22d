// ganlens web UI: one page over the JSON API in ganlens/web/app.py. No framework: the page is small.
"use strict";

const $ = (id) => document.getElementById(id);
let info = null;
let sid = null;
let version = -1;
let lastState = null;  // the newest view's state: sliders built later (style channels) start from its strengths
// The state token of the newest view: the server re-creates this tab's session from it when it has dropped the
// session (memory bound, idle time) or restarted. Kept in sessionStorage too, so a reload of the tab keeps its work.
let token = null;
const STORE_KEY = "ganlens-state";

// ---- errors: every failed request shows the server's message in the banner ----------------------------------

function showError(message) {
  $("error-text").textContent = message;
  $("error").hidden = false;
}

function clearError() {
  $("error").hidden = true;
  $("error-text").textContent = "";
}

async function api(method, url, body) {
  const opts = { method, headers: {} };
  if (body instanceof FormData) {
    opts.body = body;
  } else if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, opts);
  } catch (e) {
    throw new Error("the server cannot be reached (is `ganlens serve` still running?)");
  }
  let data = null;
  try { data = await response.json(); } catch (e) { /* a non-JSON reply: described below */ }
  if (!response.ok) {
    const error = new Error((data && data.error) || `request failed: HTTP ${response.status} ${response.statusText}`);
    error.expired = response.status === 404 && Boolean(data && data.expired);
    throw error;
  }
  return data;
}

const sessionUrl = (path) => `/api/sessions/${sid}${path}`;

// ---- the session: re-created from the state token whenever the server no longer has it -----------------------

let restoring = null;

function keepToken(value) {
  token = value;
  try { sessionStorage.setItem(STORE_KEY, value); } catch (e) { /* storage off: the token in memory still serves */ }
}

async function openSession() {
  // A new session on the seed inputs (the first load, or a token the server cannot restore).
  const view = await api("POST", "/api/sessions", { seed: Number($("seed").value), truncation: Number($("truncation").value) });
  sid = view.session;
  version = -1;
  applyView(view, true);
}

function restoreSession() {
  // One restore however many requests found the session gone; they all retry on the restored one.
  if (!restoring) {
    restoring = (async () => {
      try {
        if (!token) throw new Error("this page has no saved state yet");
        const view = await api("POST", "/api/sessions/restore", { token });
        sid = view.session;
        version = -1;
        applyView(view, true);
      } catch (e) {
        try { sessionStorage.removeItem(STORE_KEY); } catch (err) { /* nothing stored */ }
        token = null;
        await openSession();
        showError(`could not restore this page's state (${e.message}); started afresh`);
      } finally {
        restoring = null;
      }
    })();
  }
  return restoring;
}

async function sessionApi(method, path, body) {
  // A request on this tab's session; when the server no longer has it, restore it and send the request again
  // (a few times: a server short of memory may drop the restored session again before the request arrives).
  for (let attempt = 1; ; attempt++) {
    if (restoring) await restoring;
    const used = sid;
    try {
      return await api(method, sessionUrl(path), body);
    } catch (e) {
      if (!e.expired || attempt === 3) throw e;
      if (sid === used) await restoreSession();  // else another request has restored it meanwhile
    }
  }
}

// ---- the view: image, read-out, controls ---------------------------------------------------------------------

function applyView(view, syncControls) {
  if (view.session !== sid || view.version < version) return;  // an older answer overtaken by a newer one
  version = view.version;
  if (view.token) keepToken(view.token);
  $("current").src = view.image;
  $("current").dataset.version = String(view.version);
  $("undo").disabled = !view.can_undo;
  $("timing").textContent = `rendered in ${view.render_ms.toFixed(1)} ms`;
  $("download-png").href = sessionUrl(`/image.png?scale=4&v=${view.version}`);
  $("download-latent").href = sessionUrl(`/latent.npz?v=${view.version}`);
  const st = view.state;
  lastState = st;
  const src = st.source;
  $("source-text").textContent = describeSource(src);
  showScores(view.scores, st.base_scores, st.keep_fixed, view.visible || {});
  if (st.second_image) { $("second").src = st.second_image; $("second").hidden = false; }
  if (syncControls) {
    for (const el of document.querySelectorAll(".slider input[type=range]")) {
      const s = st.strengths[el.dataset.key] || 0;
      el.value = s;
      $(`value-${el.dataset.key}`).textContent = Number(s).toFixed(1);
    }
    for (const el of document.querySelectorAll(".slider input[type=text]")) {
      el.value = st.layers[el.dataset.key] || el.dataset.default;
    }
    showStyleMoves(st.strengths);
    $("mix").value = st.mix_layers || "";
    if (src.kind === "seed") {
      $("seed").value = src.seed;
      $("truncation").value = src.truncation;
      $("truncation-value").textContent = Number(src.truncation).toFixed(2);
    }
  }
}

function describeSource(src) {
  if (src.kind === "climb") {
    const climbs = src.climbs.map((c) => `${c.attribute} ${c.distance > 0 ? "+" : ""}${c.distance}` +
      (c.keep.length ? ` (keeping ${c.keep.join(", ")})` : ""));
    return `${describeSource(src.origin)}; climbed ${climbs.join(", then ")}`;
  }
  if (src.kind === "restore") return `restored ${src.name} (${src.task} by ${src.method}, ${src.steps} steps)`;
  return src.kind === "seed"
    ? `seed ${src.seed}, truncation ${src.truncation.toFixed(2)}`
    : `uploaded ${src.name}, inverted by ${src.method}`;
}

function shown(attr, raw) {
  // Binary attributes are scored as logits: show them as probabilities.
  return attr.kind === "binary" ? 1 / (1 + Math.exp(-raw)) : raw;
}

function showScores(scores, base, keepFixed, visible) {
  const body = $("scores").tBodies[0];
  for (const attr of info.attributes) {
    let row = $(`score-row-${attr.name}`);
    if (!row) {
      row = body.insertRow();
      row.id = `score-row-${attr.name}`;
      row.innerHTML = `<td>${attr.name}</td><td class="bar"><div></div></td><td class="value" id="score-${attr.name}"></td>` +
        `<td class="delta"></td><td></td>`;
      if (attr.fixable) {
        const box = document.createElement("input");
        box.type = "checkbox";
        box.id = `fix-${attr.name}`;
        box.title = `keep ${attr.name} fixed while editing`;
        box.addEventListener("change", () => {
          const fixed = info.attributes.filter((a) => a.fixable && $(`fix-${a.name}`).checked).map((a) => a.name);
          queueEdit({ keep_fixed: fixed }, true);
        });
        row.cells[4].appendChild(box);
      }
    }
    const v = shown(attr, scores[attr.name]);
    const b = base[attr.name] === undefined ? v : shown(attr, base[attr.name]);
    const lo = attr.kind === "binary" ? 0 : attr.low, hi = attr.kind === "binary" ? 1 : attr.high;
    const frac = Math.max(0, Math.min(1, (v - lo) / (hi - lo)));
    row.cells[1].firstChild.style.width = `${(frac * 100).toFixed(1)}%`;
    const cell = $(`score-${attr.name}`);
    cell.textContent = (attr.kind === "binary" ? "p " : "") + v.toFixed(2);
    cell.dataset.value = String(v);
    const d = v - b;
    row.cells[3].textContent = Math.abs(d) < 0.005 ? "" : (d > 0 ? "+" : "") + d.toFixed(2);
    row.cells[3].className = "delta " + (d > 0.005 ? "up" : d < -0.005 ? "down" : "");
    // A change counts as visible only when every predictor reads it so (the rule of the report's edit numbers).
    const seen = visible[attr.name];
    if (seen && seen.visible) {
      row.cells[3].textContent += " \u2714";
      row.cells[3].classList.add("visible");
      row.cells[3].title = `a visible change, as ${Object.keys(seen.readers).join(" and ")} read it`;
    } else {
      row.cells[3].title = seen ? `not a visible change for ${Object.entries(seen.readers).filter(([, v]) => !v).map(([k]) => k).join(", ")}` : "";
    }
    const box = $(`fix-${attr.name}`);
    if (box) box.checked = keepFixed.includes(attr.name);
  }
}

// ---- sliders: the newest value wins; at most one edit request in flight --------------------------------------

let pendingEdit = null;
let editInFlight = false;

function queueEdit(patch, commit) {
  const p = pendingEdit || { strengths: {}, layers: {}, commit: false };
  Object.assign(p.strengths, patch.strengths || {});
  Object.assign(p.layers, patch.layers || {});
  if (patch.keep_fixed !== undefined) p.keep_fixed = patch.keep_fixed;
  if (patch.set_mix) { p.set_mix = true; p.mix_layers = patch.mix_layers; }
  p.commit = p.commit || commit;
  pendingEdit = p;
  pumpEdits();
}

async function pumpEdits() {
  if (editInFlight || !pendingEdit) return;
  const body = pendingEdit;
  pendingEdit = null;
  editInFlight = true;
  try {
    applyView(await sessionApi("POST", "/edit", body), false);
  } catch (e) {
    showError(e.message);
  } finally {
    editInFlight = false;
    pumpEdits();
  }
}

function addSlider(box, s) {
  // One slider row: label, range, value and, for directions in W, the layer-range field (an S direction's
  // channels name their own layers, so it has none).
  const row = document.createElement("div");
  row.className = "slider";
  row.innerHTML = `<label for="slider-${s.key}" id="label-${s.key}"></label>` +
    `<input type="range" id="slider-${s.key}" min="-5" max="5" step="0.1" value="0">` +
    `<output id="value-${s.key}">0.0</output>` +
    (s.layers === null ? "<span></span>"
      : `<input type="text" id="layers-${s.key}" list="layer-options" title="layers this slider moves (e.g. all, coarse, 0-3)">`);
  box.appendChild(row);
  $(`label-${s.key}`).textContent = s.label;
  $(`label-${s.key}`).title = s.title || s.label;
  const range = $(`slider-${s.key}`);
  range.dataset.key = s.key;
  const value = (lastState && lastState.strengths[s.key]) || 0;
  range.value = value;
  $(`value-${s.key}`).textContent = Number(value).toFixed(1);
  range.addEventListener("input", () => {
    $(`value-${s.key}`).textContent = Number(range.value).toFixed(1);
    queueEdit({ strengths: { [s.key]: Number(range.value) } }, false);
  });
  range.addEventListener("change", () => queueEdit({ strengths: { [s.key]: Number(range.value) } }, true));
  if (s.layers === null) return;
  const layers = $(`layers-${s.key}`);
  layers.dataset.key = s.key;
  layers.dataset.default = s.layers;
  layers.value = s.layers;
  layers.addEventListener("change", () => queueEdit({ layers: { [s.key]: layers.value.trim() } }, true));
}

function buildSliders() {
  const box = $("sliders");
  box.innerHTML = "";
  const titles = {
    attribute: "Attributes (shipped boundaries)", gradient: "Attributes (gradient directions, own layers, W units)",
    user: "Your directions", sefa: "Discovered (SeFa)",
  };
  let group = null;
  for (const s of info.sliders) {
    if (s.group !== group) {
      group = s.group;
      const h = document.createElement("div");
      h.className = "group";
      h.textContent = titles[group] || group;
      box.appendChild(h);
    }
    addSlider(box, s);
  }
  const options = $("layer-options");
  options.innerHTML = "";
  for (const [name, range] of Object.entries(info.layer_presets)) {
    const o = document.createElement("option");
    o.value = name;
    o.label = `${name} (${range})`;
    options.appendChild(o);
  }
}

async function refreshLabels() {
  // SeFa directions are auto-labelled in the background after start-up: pick the labels up when they exist.
  try {
    const fresh = await api("GET", "/api/info");
    for (const s of fresh.sliders) {
      const label = $(`label-${s.key}`);
      if (label) label.textContent = label.title = s.label;
    }
    $("labels-pending").hidden = !fresh.labels_pending;
    if (fresh.labels_pending) setTimeout(refreshLabels, 3000);
  } catch (e) { /* the next action reports a dead server */ }
}

// ---- style channels (StyleSpace): the top channels of S for one attribute, as sliders --------------------------

async function loadStyleChannels() {
  const attribute = $("style-attribute").value;
  const box = $("style-sliders");
  box.innerHTML = "";
  if (!attribute) return;
  $("style-pending").hidden = false;  // the first list of an attribute is ranked on the server (seconds)
  try {
    const res = await api("GET", `/api/stylespace/${encodeURIComponent(attribute)}`);
    if ($("style-attribute").value !== attribute) return;  // another attribute was chosen meanwhile
    for (const c of res.channels) {
      const way = c.sensitivity > 0 ? "+" : "\u2212";
      addSlider(box, {
        key: c.key, layers: null, label: `${c.channel} (${attribute} \u2191 with ${way})`,
        title: `channel ${c.index} of layer ${c.layer}; one unit is its spread (${c.spread.toPrecision(3)}); ` +
          `${attribute} changes by ${c.sensitivity.toPrecision(3)} per spread`,
      });
    }
  } catch (e) {
    showError(e.message);
  } finally {
    $("style-pending").hidden = true;
    if (lastState) showStyleMoves(lastState.strengths);
  }
}

function showStyleMoves(strengths) {
  // Channels moved but not among the sliders shown (another attribute's): listed, so that nothing is hidden.
  const shown = new Set([...document.querySelectorAll("#style-sliders input[type=range]")].map((el) => el.dataset.key));
  const others = Object.entries(strengths).filter(([k, v]) => k.startsWith("style:") && v && !shown.has(k));
  $("style-others").textContent = others.length
    ? `also moved: ${others.map(([k, v]) => `${k.slice(6)} ${v > 0 ? "+" : ""}${v}`).join(", ")} (Reset clears them)` : "";
}

// ---- restoration: a damaged upload restored with the GAN as the prior ------------------------------------------

async function restoreUpload(file) {
  clearError();
  const form = new FormData();
  form.append("file", file, file.name);
  form.append("task", $("restore-task").value.trim());
  form.append("method", $("restore-method").value);
  form.append("steps", $("restore-steps").value);
  setProgress(0, `uploading ${file.name}`);
  try {
    const { job } = await sessionApi("POST", "/restoration", form);
    const finished = await followJob(job);
    $("restore-observed").src = finished.result.observed;
    $("restore-restored").src = finished.result.restored;
    $("restore-result").hidden = false;
  } catch (e) {
    $("progress").hidden = true;
    showError(e.message);
  }
}

// ---- seeds, uploads, inversion progress ---------------------------------------------------------------------

async function loadSeed(slot) {
  clearError();
  const seed = Number($(slot === "a" ? "seed" : "seed-b").value);
  try {
    const view = await sessionApi("POST", "/seed", { seed, truncation: Number($("truncation").value), slot });
    applyView(view, true);
  } catch (e) { showError(e.message); }
}

async function upload(file, slot) {
  clearError();
  const form = new FormData();
  form.append("file", file, file.name);
  form.append("method", $("method").value);
  form.append("steps", $("steps").value);
  form.append("slot", slot);
  form.append("align", $("align").checked ? "true" : "false");
  setProgress(0, `uploading ${file.name}`);
  try {
    const { job } = await sessionApi("POST", "/upload", form);
    await followJob(job);
  } catch (e) {
    $("progress").hidden = true;
    showError(e.message);
  }
}

function setProgress(fraction, text) {
  $("progress").hidden = false;
  $("progress-bar").style.width = `${(fraction * 100).toFixed(1)}%`;
  $("progress-text").textContent = text;
}

async function followJob(job) {
  while (job.status === "running") {
    setProgress(job.progress, `${job.method}: ${job.message}` + (job.loss != null ? ` (loss ${job.loss.toFixed(4)})` : ""));
    await new Promise((r) => setTimeout(r, 250));
    job = await sessionApi("GET", `/jobs/${job.id}`);
  }
  if (job.status === "error") throw new Error(job.error);
  setProgress(1, `${job.method}: done`);
  $("progress").dataset.status = "done";
  applyView(job.view, true);  // the finished job's answer carries the view (and its state token)
  return job;
}

function wireDrop(zone, input) {
  const slot = zone.dataset.slot;
  input.addEventListener("change", () => { if (input.files.length) upload(input.files[0], slot); input.value = ""; });
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    if (e.dataTransfer.files.length) upload(e.dataTransfer.files[0], slot);
  });
}

// ---- climb: per-sample ascent of one attribute ----------------------------------------------------------------

async function climb() {
  clearError();
  const button = $("climb");
  button.disabled = true;
  button.textContent = "Climbing…";
  try {
    const body = { attribute: $("climb-attribute").value, distance: Number($("climb-distance").value) };
    applyView(await sessionApi("POST", "/climb", body), true);
  } catch (e) {
    showError(e.message);
  } finally {
    button.disabled = false;
    button.textContent = "Climb";
  }
}

// ---- morph ---------------------------------------------------------------------------------------------------

async function morph() {
  clearError();
  try {
    const res = await sessionApi("POST", "/morph", { frames: Number($("frames").value) });
    $("morph-gif").src = res.url;
    $("morph-gif").hidden = false;
    $("download-gif").href = res.url;
    $("download-gif").hidden = false;
  } catch (e) { showError(e.message); }
}

// ---- downloads: make sure the session exists (restoring it if need be) before the browser follows the link ----

function wireDownload(link) {
  link.addEventListener("click", async (e) => {
    if (link.dataset.checked) { delete link.dataset.checked; return; }  // the second click, after the check
    e.preventDefault();
    try {
      applyView(await sessionApi("GET", ""), false);  // updates the link to the (possibly new) session
    } catch (err) { showError(err.message); return; }
    link.dataset.checked = "true";
    link.click();
  });
}

// ---- start ---------------------------------------------------------------------------------------------------

async function start() {
  $("error-close").addEventListener("click", clearError);
  try {
    info = await api("GET", "/api/info");
  } catch (e) { showError(e.message); return; }
  $("model-name").textContent = `${info.model} (${info.resolution}px)`;
  const labels = { encoder: "encoder (fast)", hybrid: "hybrid (encoder + optimisation)", optim: "optimisation" };
  for (const m of info.methods) {
    const o = document.createElement("option");
    o.value = m;
    o.textContent = labels[m] || m;
    $("method").appendChild(o);
  }
  $("align-row").hidden = !info.align_available;
  for (const a of info.attributes) {
    const o = document.createElement("option");
    o.value = o.textContent = a.name;
    $("climb-attribute").appendChild(o);
  }
  $("climb-box").hidden = !info.climb_available;
  if (info.climb_guards.length) {
    $("climb-guards").textContent = ` (as the predictor reads them and as ${info.climb_guards.join(", ")} does)`;
  }
  $("climb").addEventListener("click", climb);
  buildSliders();
  $("style-box").hidden = !info.style.available;
  for (const a of info.style.attributes) {
    const o = document.createElement("option");
    o.value = o.textContent = a;
    $("style-attribute").appendChild(o);
  }
  $("style-attribute").addEventListener("change", loadStyleChannels);
  $("restore-box").hidden = !info.restore.methods.length;
  $("restore-forms").textContent = Object.values(info.restore.tasks).join("; ");
  for (const m of info.restore.methods) {
    const o = document.createElement("option");
    o.value = o.textContent = m;
    o.title = info.restore.descriptions[m];
    $("restore-method").appendChild(o);
  }
  $("restore-file").addEventListener("change", () => {
    const input = $("restore-file");
    if (input.files.length) restoreUpload(input.files[0]);
    input.value = "";
  });
  $("truncation").addEventListener("input", () => { $("truncation-value").textContent = Number($("truncation").value).toFixed(2); });
  $("truncation").addEventListener("change", () => loadSeed("a"));
  $("seed-load").addEventListener("click", () => loadSeed("a"));
  $("seed-random").addEventListener("click", () => { $("seed").value = Math.floor(Math.random() * 100000); loadSeed("a"); });
  $("seed-b-load").addEventListener("click", () => loadSeed("b"));
  $("undo").addEventListener("click", async () => {
    try { applyView(await sessionApi("POST", "/undo"), true); } catch (e) { showError(e.message); }
  });
  $("reset").addEventListener("click", async () => {
    try { applyView(await sessionApi("POST", "/reset"), true); } catch (e) { showError(e.message); }
  });
  for (const id of ["download-png", "download-latent"]) wireDownload($(id));
  $("mix").addEventListener("change", () => queueEdit({ set_mix: true, mix_layers: $("mix").value || null }, true));
  $("morph").addEventListener("click", morph);
  wireDrop($("drop-a"), $("file-a"));
  wireDrop($("drop-b"), $("file-b"));
  try {
    try { token = sessionStorage.getItem(STORE_KEY); } catch (e) { token = null; }
    // A reload of this tab picks up where it was; a new tab starts on the seed inputs.
    await (token ? restoreSession() : openSession());
    document.body.dataset.ready = "true";
  } catch (e) { showError(e.message); }
  if (info.labels_pending) { $("labels-pending").hidden = false; setTimeout(refreshLabels, 3000); }
}

document.addEventListener("DOMContentLoaded", start);
