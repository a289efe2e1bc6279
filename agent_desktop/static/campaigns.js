/* Campaign panel: live figures per campaign, start / pause / stop with a reason, and the
   manual dials the rules refused (a supervisor may approve one dial, with a reason). */
"use strict";

(() => {
  const {t, el, clear, api, flash, fail, dateTime} = CB;
  const $ = (id) => document.getElementById(id);
  const campaigns = new Map();
  const denials = new Map();
  const inputs = new Map();  // kept across redraws so a half-typed reason survives a push
  const STATE_TEXT = {running: "cmp_running", paused: "paused", stopped: "cmp_stopped", finished: "cmp_finished"};

  function input(key, placeholder) {
    let box = inputs.get(key);
    if (!box) {
      box = el("input", {className: "cmp-reason", type: "text"});
      box.placeholder = placeholder;
      box.maxLength = 200;
      inputs.set(key, box);
    }
    return box;
  }

  function pct(value) { return value === null || value === undefined ? "–" : (100 * value).toFixed(1) + "%"; }
  function num(value, title) {
    return el("td", {className: "num", text: value === null || value === undefined ? "–" : value, title});
  }

  function abandonCell(rate, live, abandoned, c) {
    const td = num(pct(rate), abandoned + " / " + live + " (≤ " + pct(c.abandon.limit) + ")");
    const limit = c.abandon.limit, near = Math.min(0.8 * limit, c.abandon.target ?? limit);
    td.classList.add("cmp-ab", "cmp-ab-" + (rate !== null && rate >= limit ? "over"
      : rate !== null && rate >= near ? "near" : "ok"));
    return td;
  }

  function control(c, verb, label, needsReason, disabled) {
    const b = el("button", {className: "btn small " + (verb === "stop" ? "danger" : verb === "start" ? "ok" : "warn"),
                            type: "button", text: label, disabled});
    b.dataset.verb = verb;
    b.addEventListener("click", async () => {
      const box = input("c" + c.id, t("reason"));
      const reason = box.value.trim();
      if (needsReason && !reason) { flash(t("cmp_reason_needed"), true); box.focus(); return; }
      try {
        const view = await api("POST", "/api/campaigns/" + c.id + "/" + verb, {reason});
        box.value = "";
        campaigns.set(view.id, view);
        renderCampaigns();
        flash(view.name + ": " + t(STATE_TEXT[view.state] || view.state));
      } catch (err) { fail(err); }
    });
    return b;
  }

  function stateCell(c) {
    const breaker = c.breaker;
    const tripped = Boolean(breaker && breaker.tripped && c.state === "paused");
    const td = el("td", {className: tripped ? "cmp-breaker-tripped" : ""},
      el("span", {className: "st cmp-st-" + c.state, text: t(STATE_TEXT[c.state] || c.state)}));
    if (c.reason) td.append(el("div", {className: "cmp-why" + (tripped ? " cmp-alert" : ""), text: c.reason, title: c.reason}));
    if (breaker && !tripped && breaker.failures_in_a_row > 0) {
      td.append(el("div", {className: "cmp-why cmp-warn", title: breaker.last_failure || "",
                           text: t("cmp_pbx_failures") + ": " + breaker.failures_in_a_row + " / " + breaker.threshold}));
    }
    return td;
  }

  function renderCampaigns() {
    const body = $("t-campaigns").tBodies[0];
    clear(body);
    const items = [...campaigns.values()].sort((a, b) => a.name.localeCompare(b.name));
    if (!items.length) { const td = el("td", {className: "muted", text: t("none")}); td.colSpan = 13; body.append(el("tr", {}, td)); }
    for (const c of items) {
      const ops = c.operators, list = c.list, level = c.dial_level;
      const running = c.state === "running";
      const name = el("td", {title: c.pacing || c.settings_error || ""},
        el("strong", {text: c.name}), " ", el("small", {text: c.mode || ""}));
      if (c.pacing) name.append(el("div", {className: "cmp-pacing", text: c.pacing}));
      body.append(el("tr", {dataset: {campaign: String(c.id)}},
        name,
        stateCell(c),
        num(c.today.attempts, t("cmp_not_dialled") + ": " + (c.today.not_dialled || 0)), num(c.today.contacts), num(c.today.right_party_contacts), num(c.today.promises),
        abandonCell(c.abandon.rate_24h, c.abandon.live_24h, c.abandon.abandoned_24h, c),
        abandonCell(c.abandon.rate_30d, c.abandon.live_30d, c.abandon.abandoned_30d, c),
        num(level && level.lines_per_operator !== null ? level.lines_per_operator + " / " + level.max_lines_per_operator : null),
        num(c.loaded ? c.lines_in_use : null),
        num(ops ? ops.on_line - ops.paused + " / " + ops.on_line : null,
            ops ? ops.list.map((o) => o.agent_id + ": " + t(o.state)).join(", ") : undefined),
        num(list ? list.remaining + " (" + list.eligible_now + ")" : null,
            list ? Object.entries(list.refused).map(([rule, n]) => rule + ": " + n).join(", ") : undefined),
        el("td", {}, el("div", {className: "actions"},
          input("c" + c.id, t("reason")),
          control(c, "start", t("cmp_start"), false, !c.loaded || running),
          control(c, "pause", t("pause"), true, !c.loaded || !running),
          control(c, "stop", t("cmp_stop"), true, !c.loaded || c.state === "stopped")))));
    }
  }

  function renderDenials() {
    const body = $("t-dial-denials").tBodies[0];
    clear(body);
    const items = [...denials.values()].sort((a, b) => b.id - a.id);
    if (!items.length) { const td = el("td", {className: "muted", text: t("none")}); td.colSpan = 5; body.append(el("tr", {}, td)); }
    for (const d of items) {
      const first = d.denials[0];
      const approve = el("button", {className: "btn small", type: "button", text: t("cmp_approve")});
      const box = input("d" + d.id, t("reason"));
      approve.addEventListener("click", async () => {
        const reason = box.value.trim();
        if (!reason) { flash(t("cmp_reason_needed"), true); box.focus(); return; }
        try {
          await api("POST", "/api/dial-approvals", {agent_id: d.agent_id, number: d.phone, reason});
          denials.delete(d.id);
          inputs.delete("d" + d.id);
          renderDenials();
          flash(t("cmp_approved"));
        } catch (err) { fail(err); }
      });
      body.append(el("tr", {dataset: {denial: String(d.id)}},
        el("td", {text: dateTime(d.at)}), el("td", {text: d.agent_name || d.agent_id}), el("td", {text: d.phone}),
        el("td", {title: d.denials.map((x) => x.rule + ": " + x.reason).join("\n")},
          el("strong", {text: first.rule}), " ", el("small", {text: first.reason})),
        el("td", {}, el("div", {className: "actions"}, box, approve))));
    }
  }

  async function resync() {
    try {
      const [list, refused] = await Promise.all([api("GET", "/api/campaigns"), api("GET", "/api/dial-denials")]);
      campaigns.clear();
      for (const c of list.items) campaigns.set(c.id, c);
      denials.clear();
      for (const d of refused.items) denials.set(d.id, d);
      renderCampaigns();
      renderDenials();
    } catch (err) {
      if (err.status === 401) location.href = "/login"; else fail(err);
    }
  }

  function onMessage(message) {
    if (message.type === "campaign") { campaigns.set(message.campaign.id, message.campaign); renderCampaigns(); }
    else if (message.type === "campaign_alert") { flash(message.name + ": " + message.detail, true); }
    else if (message.type === "dial_denial") { denials.set(message.denial.id, message.denial); renderDenials(); }
    else if (message.type === "dial_denial_closed") { denials.delete(message.id); inputs.delete("d" + message.id); renderDenials(); }
  }

  CB.connect("panel", {onOpen: resync, onMessage});
})();
