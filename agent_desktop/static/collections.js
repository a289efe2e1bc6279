/* Supervisor panel: promises and plan instalments due today and missed yesterday. */
"use strict";

(() => {
  const {t, el, clear, api, money} = CB;
  const $ = (id) => document.getElementById(id);

  function label(item) {
    return item.kind === "instalment" ? t("instalment") + " " + item.seq : t("promise");
  }

  function fill(id, items) {
    const body = $(id).tBodies[0];
    clear(body);
    if (!items.length) {
      const td = el("td", {className: "muted", text: t("none")});
      td.colSpan = 6;
      body.append(el("tr", {}, td));
      return;
    }
    for (const item of items) {
      body.append(el("tr", {},
        el("td", {text: label(item)}), el("td", {text: item.name}), el("td", {text: item.reference}),
        el("td", {className: "num", text: money(item.amount) + " " + item.currency}),
        el("td", {text: item.due_on}), el("td", {}, el("span", {className: "tag " + item.status, text: item.status}))));
    }
  }

  async function load() {
    if (!$("collections-due")) return;
    try {
      const data = await api("GET", "/api/collections/due");
      fill("t-due-today", data.due_today);
      fill("t-broken-yesterday", data.broken_yesterday);
    } catch (_) { /* the panel shows the last lists; the next refresh tries again */ }
  }

  load();
  setInterval(load, 5 * 60 * 1000);
})();
