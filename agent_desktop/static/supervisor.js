/* Supervisor panels: queues and agents, pushed live; listen / whisper / barge, pause, log out. */
"use strict";

(() => {
  const {t, el, clear, api, flash, fail, duration} = CB;
  const $ = (id) => document.getElementById(id);
  const ORDER = {on_call: 0, ringing: 1, reserved: 2, wrap_up: 3, ready: 4, paused: 5, logged_out: 6};

  function pct(value) { return value === null || value === undefined ? "–" : value.toFixed(1) + "%"; }
  function slCell(stats) {
    const td = el("td", {className: "num", text: stats ? pct(stats.service_level) : "–"});
    if (stats && stats.service_level !== null) td.classList.add(stats.service_level >= stats.target_pct ? "sl-good" : "sl-bad");
    return td;
  }
  function num(value) { return el("td", {className: "num", text: value === null || value === undefined ? "–" : value}); }

  function renderQueues() {
    const body = $("t-queues").tBodies[0];
    clear(body);
    const queues = [...Panels.state.queues.values()].sort((a, b) => a.name.localeCompare(b.name));
    if (!queues.length) { const td = el("td", {className: "muted", text: t("none")}); td.colSpan = 12; body.append(el("tr", {}, td)); }
    for (const q of queues) {
      const today = q.today, recent = q.recent, live = recent || today;
      body.append(el("tr", {},
        el("td", {text: q.name}), num(q.waiting), num(q.oldest ? duration(CB.since(q.oldest)) : "–"),
        slCell(today), slCell(recent),
        num(today && today.offered), num(today && today.answered), num(today && today.abandoned),
        num(today && today.asa_s !== null ? duration(today.asa_s) : "–"),
        num(live && live.agents_ready), num(live && live.agents_busy), num(live && live.agents_paused)));
    }
  }

  function command(agentId, name, body) {
    return async () => {
      try { await api("POST", "/supervisor/agents/" + encodeURIComponent(agentId) + "/" + name, body || {}); flash(t(name === "pause" ? "force_pause" : name)); }
      catch (err) { fail(err); }
    };
  }

  function button(label, handler, disabled) {
    const b = el("button", {className: "btn small", type: "button", text: label, disabled});
    b.addEventListener("click", handler);
    return b;
  }

  function renderAgents() {
    const body = $("t-agents").tBodies[0];
    clear(body);
    const agents = [...Panels.state.agents.values()].sort(
      (a, b) => (ORDER[a.state] - ORDER[b.state]) || a.name.localeCompare(b.name));
    for (const a of agents) {
      const onCall = a.state === "on_call";
      const loggedOut = a.state === "logged_out";
      body.append(el("tr", {dataset: {agent: a.agent_id}},
        el("td", {text: a.name || a.agent_id}),
        el("td", {}, el("span", {className: "st st-" + a.state, text: t(a.state) + (a.reason ? " · " + a.reason : "")})),
        el("td", {className: "num", text: a.since ? duration(CB.since(a.since)) : "–"}),
        el("td", {text: a.queue}), el("td", {text: a.party}),
        num(a.calls_today), num(duration(a.handle_s_today)),
        el("td", {}, el("div", {className: "actions"},
          button(t("listen"), command(a.agent_id, "listen"), !onCall),
          button(t("whisper"), command(a.agent_id, "whisper"), !onCall),
          button(t("barge"), command(a.agent_id, "barge"), !onCall),
          button(t("force_pause"), command(a.agent_id, "pause", {reason: "supervisor"}), loggedOut || a.state === "paused"),
          button(t("force_logout"), command(a.agent_id, "logout"), loggedOut)))));
    }
  }

  function renderLink() {
    const badge = $("link");
    const link = Panels.state.link;
    badge.hidden = !link;
    if (!link) return;
    badge.textContent = "PBX: " + link.state;
    badge.title = link.detail || "";
    badge.className = "tag " + (link.state === "up" ? "open" : "broken");
  }

  Panels.start((what) => {
    if (what === "tick") { renderQueues(); tickAgents(); return; }
    if (what === "link" || what === "all") renderLink();
    if (what === "queue" || what === "all") renderQueues();
    if (what === "agent" || what === "all") renderAgents();
  });

  function tickAgents() {
    for (const row of $("t-agents").tBodies[0].rows) {
      const agent = Panels.state.agents.get(row.dataset.agent);
      if (agent && agent.since) row.cells[2].textContent = duration(CB.since(agent.since));
    }
  }
})();
