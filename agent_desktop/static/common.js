/* Shared browser helpers: text, DOM building (textContent only), API calls, the websocket. */
"use strict";

const CB = (() => {
  const strings = JSON.parse(document.getElementById("cb-strings").textContent);
  const csrfMeta = document.querySelector('meta[name="csrf-token"]');
  const csrf = csrfMeta ? csrfMeta.content : "";
  let tabId = null;
  let serverOffsetMs = 0;

  function t(key) { return Object.prototype.hasOwnProperty.call(strings, key) ? strings[key] : key; }

  /* el("td", {className: "num", text: value}, child...) — data only ever goes in as text. */
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === undefined || value === null) continue;
      if (key === "text") node.textContent = String(value);
      else if (key === "className") node.className = value;
      else if (key === "dataset") Object.assign(node.dataset, value);
      else if (key === "title") node.title = String(value);
      else if (key === "type" || key === "value" || key === "disabled" || key === "href") node[key] = value;
      else throw new Error("el: unsupported property " + key);
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  class ApiError extends Error {
    constructor(status, code, message) { super(message); this.status = status; this.code = code; }
  }

  async function api(method, url, body) {
    const headers = {"Accept": "application/json"};
    if (method !== "GET") { headers["X-CSRF-Token"] = csrf; headers["Content-Type"] = "application/json"; }
    if (tabId) headers["X-Tab-Id"] = tabId;
    const response = await fetch(url, {
      method, headers, credentials: "same-origin",
      body: method === "GET" ? undefined : JSON.stringify(body || {}),
    });
    let data = null;
    try { data = await response.json(); } catch (_) { data = null; }
    if (!response.ok) {
      const err = (data && data.error) || {code: "http_" + response.status, message: response.statusText};
      throw new ApiError(response.status, err.code, err.message);
    }
    return data;
  }

  let flashTimer = null;
  function flash(message, isError) {
    const box = document.getElementById("flash");
    if (!box) return;
    box.textContent = message;
    box.className = "flash" + (isError ? " error" : "");
    box.hidden = false;
    clearTimeout(flashTimer);
    flashTimer = setTimeout(() => { box.hidden = true; }, isError ? 6000 : 2500);
  }

  function fail(err) { flash((err && err.message) || String(err), true); }

  function duration(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    const mm = h ? String(m).padStart(2, "0") : String(m);
    return (h ? h + ":" : "") + mm + ":" + String(s).padStart(2, "0");
  }

  function syncClock(serverNowIso) {
    if (serverNowIso) serverOffsetMs = Date.parse(serverNowIso) - Date.now();
  }
  function serverNow() { return Date.now() + serverOffsetMs; }
  function since(iso) { return iso ? (serverNow() - Date.parse(iso)) / 1000 : 0; }

  /* One websocket with reconnect (exponential backoff with jitter); `onOpen` resyncs state. */
  function connect(page, handlers) {
    let attempt = 0;
    let socket = null;
    const indicator = document.getElementById("conn");
    function open() {
      const scheme = location.protocol === "https:" ? "wss://" : "ws://";
      socket = new WebSocket(scheme + location.host + "/ws?page=" + encodeURIComponent(page));
      socket.onopen = () => { attempt = 0; if (indicator) indicator.hidden = true; };
      socket.onmessage = (event) => {
        let message;
        try { message = JSON.parse(event.data); } catch (_) { return; }
        if (message.type === "hello") { tabId = message.tab_id; handlers.onOpen(); return; }
        handlers.onMessage(message);
      };
      socket.onclose = (event) => {
        if (indicator) indicator.hidden = false;
        /* 4401: the session ended (signed out here or elsewhere, or by an administrator). */
        if (event.code === 4401 || event.code === 1008) {
          if (indicator) indicator.textContent = t("signed_out");
          location.href = "/login?signed_out=1";
          return;
        }
        /* 4429: this session has its limit of sockets open; retry slowly. */
        if (event.code === 4429) {
          if (indicator) indicator.textContent = t("too_many_tabs");
          attempt = Math.max(attempt, 6);
        } else if (indicator) {
          indicator.textContent = t("reconnecting");
        }
        const delay = Math.min(30000, 500 * 2 ** attempt) * (0.75 + Math.random() * 0.5);
        attempt += 1;
        setTimeout(open, delay);
      };
    }
    open();
    return {
      send(message) { if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message)); },
    };
  }

  function money(value) {
    const number = Number(value);
    return Number.isFinite(number)
      ? number.toLocaleString(document.documentElement.lang, {minimumFractionDigits: 2, maximumFractionDigits: 2})
      : String(value);
  }

  function dateTime(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    return d.toLocaleString(document.documentElement.lang, {dateStyle: "short", timeStyle: "short"});
  }

  return {t, el, clear, api, flash, fail, duration, connect, money, dateTime, syncClock, since,
          serverNow, get tabId() { return tabId; }};
})();
