/* The campaign editor: loads a definition (or the defaults), fills the form, sends it back.
   The server validates (the same validator as `callboard campaign create`); its error names the
   setting, which is marked on the form. Settings the form does not show are kept as loaded. */
"use strict";

(() => {
  const form = document.getElementById("ce-form");
  const errorBox = document.getElementById("ce-error");
  const params = new URLSearchParams(location.search);
  const campaignId = params.get("id");
  let definition = {};

  function get(obj, path) {
    return path.split(".").reduce((o, k) => (o && typeof o === "object" ? o[k] : undefined), obj);
  }
  function put(obj, path, value) {
    const keys = path.split(".");
    let o = obj;
    for (const k of keys.slice(0, -1)) {
      if (!o[k] || typeof o[k] !== "object") o[k] = {};
      o = o[k];
    }
    o[keys[keys.length - 1]] = value;
  }

  function fill() {
    for (const node of form.querySelectorAll("[data-key]")) {
      const value = get(definition, node.dataset.key);
      const kind = node.dataset.kind;
      if (kind === "days") {
        const days = new Set((value || []).map(Number));
        for (const box of node.querySelectorAll("input")) box.checked = days.has(Number(box.value));
      } else if (kind === "bool") node.checked = Boolean(value);
      else if (kind === "list") node.value = (value || []).join(", ");
      else node.value = value === null || value === undefined ? "" : String(value);
    }
  }

  function read() {
    const data = JSON.parse(JSON.stringify(definition));
    for (const node of form.querySelectorAll("[data-key]")) {
      const kind = node.dataset.kind, raw = node.value === undefined ? "" : node.value.trim();
      let value;
      if (kind === "days") {
        value = [...node.querySelectorAll("input:checked")].map((b) => Number(b.value));
      } else if (kind === "bool") value = node.checked;
      else if (kind === "list") value = raw ? raw.split(",").map((s) => s.trim()).filter(Boolean) : [];
      else if (kind === "int" || kind === "float") value = raw === "" ? raw : (isNaN(Number(raw)) ? raw : Number(raw));
      else if (kind === "optint") value = raw === "" ? null : (isNaN(Number(raw)) ? raw : Number(raw));
      else if (kind === "money") value = raw === "" ? null : raw;
      else value = node.value;
      put(data, node.dataset.key, value);
    }
    return data;
  }

  function clearErrors() {
    errorBox.hidden = true;
    errorBox.textContent = "";
    for (const node of form.querySelectorAll(".invalid")) node.classList.remove("invalid");
    for (const node of form.querySelectorAll(".ce-field-error")) node.remove();
  }

  function showError(message, field) {
    errorBox.textContent = message;
    errorBox.hidden = false;
    if (!field) return;
    let node = form.querySelector(`[data-key="${CSS.escape(field)}"]`);
    if (!node) {  // a section-level key (retry.busy): its first field
      node = form.querySelector(`[data-key^="${CSS.escape(field)}."]`);
    }
    if (!node) return;
    node.classList.add("invalid");
    node.setAttribute("aria-invalid", "true");
    const note = CB.el("span", {className: "ce-field-error", text: message});
    note.dataset.field = field;
    (node.closest("label") || node.parentNode).append(note);
    node.focus();
  }

  async function load() {
    if (campaignId) {
      const answer = await CB.api("GET", `/api/campaigns/${encodeURIComponent(campaignId)}/definition`);
      definition = answer.definition;
      document.getElementById("ce-title").textContent = `${definition.name} (${answer.state})`;
      fill();
      if (answer.problem) showError(answer.problem.message, answer.problem.field);
    } else {
      definition = (await CB.api("GET", "/api/campaign-defaults")).definition;
      fill();
    }
  }

  async function fetchError(response) {
    try { return (await response.json()).error; } catch (_) { return {message: response.statusText}; }
  }

  /* CB.api drops `details`; the editor needs the field, so it sends with fetch itself. */
  async function send(method, url, body) {
    const csrf = document.querySelector('meta[name="csrf-token"]').content;
    const response = await fetch(url, {
      method, credentials: "same-origin",
      headers: {"Accept": "application/json", "Content-Type": "application/json", "X-CSRF-Token": csrf},
      body: JSON.stringify(body),
    });
    if (!response.ok) {
      const err = await fetchError(response);
      showError(err.message, err.details && err.details.field);
      return null;
    }
    return response.json();
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors();
    const data = read();
    const saved = campaignId
      ? await send("PUT", `/api/campaigns/${encodeURIComponent(campaignId)}/definition`, data)
      : await send("POST", "/api/campaigns", data);
    if (!saved) return;
    if (campaignId) {
      definition = saved.definition;
      fill();
      CB.flash("Saved");
    } else location.assign(`/supervisor/campaigns/editor?id=${saved.id}`);
  });

  for (const button of document.querySelectorAll("[data-clone]")) {
    button.addEventListener("click", async () => {
      clearErrors();
      const saved = await send("POST", `/api/campaigns/${button.dataset.clone}/clone`, {});
      if (saved) location.assign(`/supervisor/campaigns/editor?id=${saved.id}`);
    });
  }

  load().catch((err) => showError(err.message, null));
})();
