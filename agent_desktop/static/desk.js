/* The operator's desk: state bar, screen pop, call controls, wrap-up, search, callbacks. */
"use strict";

(() => {
  const {t, el, clear, api, flash, fail, duration, money, dateTime} = CB;
  const boot = JSON.parse(document.getElementById("cb-desk").textContent);
  const $ = (id) => document.getElementById(id);
  const desk = {agent: null, call: null, card: null, disposed: false, active: true, today: null};

  /* ---- state bar ---------------------------------------------------------------------- */

  function renderAgent(agent) {
    desk.agent = agent;
    const box = $("state");
    box.className = "state state-" + agent.state;
    $("wrapup-box").classList.toggle("attention", agent.state === "wrap_up" && !desk.disposed);
    $("state-name").textContent = t(agent.state);
    $("state-reason").textContent = agent.reason ? "· " + agent.reason : "";
    $("btn-login").hidden = agent.state !== "logged_out";
    $("btn-logout").hidden = agent.state === "logged_out";
    $("btn-extend").hidden = agent.state !== "wrap_up";
    $("btn-ready").disabled = !["paused", "wrap_up", "logged_out"].includes(agent.state);
    $("btn-pause").disabled = !["ready", "wrap_up", "logged_out"].includes(agent.state);
    tick();
  }

  function tick() {
    const agent = desk.agent;
    if (!agent) return;
    const elapsed = Math.max(0, CB.since(agent.since));
    let text = duration(elapsed);
    if (agent.state === "wrap_up" && boot.wrap_up_s) {
      const left = boot.wrap_up_s - elapsed;
      text = left >= 0 ? "−" + duration(left) : "+" + duration(-left);
    }
    $("state-time").textContent = text;
  }
  setInterval(tick, 1000);

  function renderToday(today) {
    desk.today = today;
    $("c-calls").textContent = today.calls;
    $("c-talk").textContent = duration(today.talk_s);
    $("c-promises").textContent = today.promises;
    $("c-promised").textContent = money(today.promised);
  }

  async function agentAction(action, extra) {
    try {
      await api("POST", "/desk/agent", Object.assign({action}, extra || {}));
    } catch (err) {
      if (err.code === "desk.disposition_required") { flash(t("disposition_required"), true); focusDisposition(); }
      else fail(err);
    }
  }

  $("btn-login").addEventListener("click", () => agentAction("login"));
  $("btn-ready").addEventListener("click", () => agentAction("ready"));
  $("btn-pause").addEventListener("click", () => agentAction("pause", {reason: $("pause-reason").value}));
  $("btn-logout").addEventListener("click", () => agentAction("logout"));
  $("btn-extend").addEventListener("click", () => agentAction("extend"));

  /* ---- the call and its card ---------------------------------------------------------- */

  function renderCall(call) {
    const previous = desk.call;
    desk.call = call;
    $("no-call").hidden = !!call;
    $("call").hidden = !call;
    if (!call) { desk.card = null; return; }
    if (!previous || previous.linkedid !== call.linkedid) {
      desk.disposed = false;
      resetWrapup();
      loadCallDetail(call.linkedid);
    }
    $("caller-number").textContent = call.caller_number || "—";
    const meta = [call.queue, call.card ? t("matched_by") + ": " + call.card.matched_by : t("unknown_caller")];
    if (call.waited_s) meta.push(t("waiting") + " " + duration(call.waited_s));
    $("call-meta").textContent = meta.filter(Boolean).join(" · ");
    $("btn-hold").hidden = call.held;
    $("btn-resume").hidden = !call.held;
    for (const id of ["btn-hangup", "btn-hold", "btn-xfer-queue", "btn-xfer-agent", "btn-consult"]) {
      $(id).disabled = call.ended || !desk.active;
    }
    $("unknown").hidden = !!call.card;
    if (call.card) renderCard(call.card);
    else { $("card").hidden = true; desk.card = null; fillDebts(); }
    if (!call.card) {
      const form = $("quick-create");
      if (!form.elements.phone.value) form.elements.phone.value = call.caller_number || "";
    }
  }

  function cell(text, className) { return el("td", {className, text}); }
  function fill(tbodyOrList, rows) { clear(tbodyOrList); for (const row of rows) tbodyOrList.append(row); }
  function emptyRow(cols) { const td = el("td", {className: "muted", text: t("none")}); td.colSpan = cols; return el("tr", {}, td); }

  function renderCard(card) {
    desk.card = card;
    $("card").hidden = false;
    // other panels (recordings) follow whichever debtor's card is open
    document.dispatchEvent(new CustomEvent("cb:card", {detail: {contact_id: card.contact_id}}));
    $("card-name").textContent = card.name || "—";
    const badges = $("card-badges");
    clear(badges);
    if (card.vip) badges.append(el("span", {className: "tag vip", text: "VIP"}));
    if (card.segment) badges.append(el("span", {className: "tag", text: card.segment}));
    for (const phone of card.phones) {
      if (phone.do_not_call) badges.append(el("span", {className: "tag dnc", text: "DNC " + phone.e164}));
    }
    $("card-balance").textContent = money(card.total_balance);
    const meta = $("card-meta");
    clear(meta);
    if (card.external_ref) meta.append(el("span", {text: "# " + card.external_ref}));
    if (card.address) meta.append(el("span", {text: card.address}));
    if (card.timezone) meta.append(el("span", {text: card.timezone + " · " + localTime(card.timezone)}));
    meta.append(el("span", {text: card.phones.map((p) => p.e164 + " (" + p.kind + ")").join(", ")}));
    if (card.other_contacts && card.other_contacts.length) {
      meta.append(el("span", {text: "+ " + card.other_contacts.map((o) => o[1]).join(", ")}));
    }
    if (card.notes) meta.append(el("span", {text: card.notes}));
    const debts = card.debts.map((d) => el("tr", {},
      cell(d.creditor), cell(d.reference), cell(money(d.principal) + " " + d.currency, "num"),
      cell(money(d.balance) + " " + d.currency, "num"), cell(d.days_past_due, d.days_past_due > 90 ? "num dpd-high" : "num"),
      el("td", {}, el("span", {className: "tag", text: d.status}))));
    fill($("t-debts").tBodies[0], debts.length ? debts : [emptyRow(6)]);
    const promises = card.promises.map((p) => el("tr", {},
      cell(p.due_on), cell(money(p.amount), "num"), el("td", {}, el("span", {className: "tag " + p.status, text: p.status}))));
    fill($("t-promises").tBodies[0], promises.length ? promises : [emptyRow(3)]);
    const payments = card.payments.map((p) => el("tr", {}, cell(p.paid_on), cell(money(p.amount), "num"), cell(p.method), cell(p.reference || "")));
    fill($("t-payments").tBodies[0], payments.length ? payments : [emptyRow(4)]);
    renderPlans(card);
    const history = card.interactions.map((i) => el("tr", {},
      cell(dateTime(i.started_at)), cell(i.kind + " " + i.direction), cell(i.disposition), cell(i.notes),
      cell(i.recording_ref ? "●" : "")));
    fill($("t-history").tBodies[0], history.length ? history : [emptyRow(5)]);
    const tasks = card.tasks.map((task) => el("li", {}, el("span", {text: dateTime(task.due_at)}),
      el("span", {className: "grow", text: task.kind + (task.note ? " — " + task.note : "")})));
    fill($("l-tasks"), tasks.length ? tasks : [el("li", {className: "muted", text: t("none")})]);
    fillDebts();
  }

  function localTime(zone) {
    try {
      return new Date(CB.serverNow()).toLocaleTimeString(document.documentElement.lang,
        {timeZone: zone, hour: "2-digit", minute: "2-digit"});
    } catch (_) { return ""; }
  }

  async function loadCallDetail(linkedid) {
    const ivr = $("ivr");
    clear(ivr);
    const path = desk.call && desk.call.ivr_path || [];
    if (path.length) ivr.append(el("div", {text: path.join(" › ")}));
    try {
      const detail = await api("GET", "/api/calls/" + encodeURIComponent(linkedid));
      if (!desk.call || desk.call.linkedid !== linkedid) return;
      if (!path.length && detail.ivr_path.length) ivr.append(el("div", {text: detail.ivr_path.join(" › ")}));
      if (detail.ivr_digits) ivr.append(el("div", {text: t("digits") + ": " + detail.ivr_digits}));
      if (detail.recording_ref) ivr.append(el("div", {text: t("recordings") + ": " + detail.recording_ref}));
    } catch (_) { /* the call's log row may not exist yet; the card is what matters */ }
    if (!ivr.firstChild) ivr.append(el("span", {className: "muted", text: t("none")}));
  }

  /* ---- call controls ------------------------------------------------------------------ */

  async function callAction(action, body) {
    try { await api("POST", "/desk/call/" + action, body || {}); flash(t(action === "xfer" ? "transfer" : action)); }
    catch (err) { fail(err); }
  }
  $("btn-hangup").addEventListener("click", () => callAction("hangup"));
  $("btn-hold").addEventListener("click", () => callAction("hold"));
  $("btn-resume").addEventListener("click", () => callAction("resume"));
  function transferTarget() {
    const target = $("xfer-target").value.trim();
    if (!target) { $("xfer-target").focus(); return null; }
    return target;
  }
  $("btn-xfer-queue").addEventListener("click", () => {
    const target = transferTarget(); if (target) callAction("transfer", {kind: "queue", target});
  });
  $("btn-xfer-agent").addEventListener("click", () => {
    const target = transferTarget(); if (target) callAction("transfer", {kind: "operator", target});
  });
  $("btn-consult").addEventListener("click", () => {
    const target = transferTarget(); if (target) callAction("consult", {target});
  });
  $("btn-keypad").addEventListener("click", () => { $("keypad").hidden = !$("keypad").hidden; });
  $("keypad").addEventListener("click", (event) => {
    const digit = event.target.dataset && event.target.dataset.digit;
    if (digit) callAction("dtmf", {digit});
  });
  $("dial").addEventListener("submit", (event) => {
    event.preventDefault();
    const number = event.target.elements.number.value.trim();
    if (number) callAction("dial", {number});
  });

  /* ---- unknown caller: quick create, bound to the call -------------------------------- */

  $("quick-create").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    try {
      const body = {
        first_name: form.elements.first_name.value, last_name: form.elements.last_name.value,
        phone: form.elements.phone.value, linkedid: desk.call ? desk.call.linkedid : null,
      };
      let created;
      try {
        created = await api("POST", "/api/contacts", body);
      } catch (err) {
        // the number is an existing contact's: only an explicit confirmation links it again
        if (err.code !== "contact.number_taken" || !window.confirm(err.message)) throw err;
        created = await api("POST", "/api/contacts", {...body, confirm_shared_number: true});
      }
      const card = await api("GET", "/api/contacts/" + created.contact_id + "/card");
      if (desk.call) { desk.call.card = card; desk.call.contact_id = card.contact_id; renderCall(desk.call); }
      else renderCard(card);
      form.reset();
    } catch (err) { fail(err); }
  });

  /* ---- search ------------------------------------------------------------------------- */

  $("search").addEventListener("submit", async (event) => {
    event.preventDefault();
    const q = $("search-q").value.trim();
    const list = $("search-results");
    clear(list);
    if (!q) return;  // the server says what is too short (422 search.query_too_short)
    try {
      const result = await api("GET", "/api/contacts?q=" + encodeURIComponent(q));
      if (!result.items.length) list.append(el("li", {className: "muted", text: t("none")}));
      for (const hit of result.items) {
        const open = el("button", {className: "btn small", type: "button", text: t("open")});
        open.addEventListener("click", async () => {
          try {
            const purpose = encodeURIComponent($("search-purpose").value);
            const card = await api("GET", "/api/contacts/" + hit.contact_id + "/card?purpose=" + purpose);
            $("no-call").hidden = true; $("call").hidden = false; $("unknown").hidden = true;
            renderCard(card);
          } catch (err) { fail(err); }
        });
        const row = el("li", {}, el("span", {className: "grow", text: hit.name}),
          el("small", {text: (hit.references[0] || hit.phones[0] || "")}), open);
        if (desk.call && !desk.call.card && !desk.call.ended) {
          const bind = el("button", {className: "btn small primary", type: "button", text: t("bind")});
          bind.addEventListener("click", async () => {
            try {
              const card = await api("POST", "/api/calls/" + encodeURIComponent(desk.call.linkedid) + "/contact",
                                     {contact_id: hit.contact_id});
              renderCall(Object.assign({}, desk.call, {card, contact_id: hit.contact_id}));
            } catch (err) { fail(err); }
          });
          row.append(bind);
        }
        list.append(row);
      }
    } catch (err) { fail(err); }
  });

  /* ---- wrap-up ------------------------------------------------------------------------ */

  /* ---- payment plans and payments on the card ------------------------------------------ */

  function renderPlans(card) {
    const box = $("plans");
    clear(box);
    const plans = card.plans || [];
    if (!plans.length) { box.append(el("p", {className: "muted", text: t("none")})); return; }
    for (const plan of plans) {
      const debt = card.debts.find((d) => d.id === plan.debt_id);
      const rows = plan.instalments.map((i) => el("tr", {},
        cell(String(i.seq)), cell(i.due_on), cell(money(i.amount), "num"), cell(money(i.paid), "num"),
        el("td", {}, el("span", {className: "tag " + i.status, text: i.status}))));
      box.append(el("table", {className: "grid plan"},
        el("caption", {text: (debt ? debt.reference + " · " : "") + money(plan.total) + " · " + plan.status}),
        el("tbody", {}, ...rows)));
    }
  }

  const payForm = $("payment-form");

  function fillPaymentDebts() {
    const select = $("pay-debt");
    clear(select);
    for (const d of (desk.card ? desk.card.debts : [])) {
      select.append(el("option", {value: String(d.id), text: d.reference + " — " + money(d.balance) + " " + d.currency}));
    }
    $("pay-date").max = new Date(CB.serverNow()).toISOString().slice(0, 10);
  }

  async function postPayment() {
    if (!desk.card) return;
    const data = new FormData(payForm);
    const msg = $("payment-msg");
    try {
      await api("POST", "/api/debts/" + encodeURIComponent(data.get("debt_id")) + "/payments", {
        amount: data.get("amount"), paid_on: data.get("paid_on"), method: data.get("method"),
        reference: data.get("reference") || "", source: "desk",
      });
      msg.textContent = t("payment_posted"); msg.className = "msg ok";
      payForm.reset();
      renderCard(await api("GET", "/api/contacts/" + desk.card.contact_id + "/card"));
    } catch (err) { msg.textContent = err.message; msg.className = "msg error"; }
  }

  payForm.addEventListener("submit", (event) => { event.preventDefault(); postPayment(); });

  function addInstalment(amount, date) {
    const amountInput = el("input", {type: "text", value: amount || ""});
    amountInput.name = "i_amount";
    amountInput.inputMode = "decimal";
    amountInput.placeholder = t("amount");
    amountInput.maxLength = 20;
    const dateInput = el("input", {type: "date", value: date || ""});
    dateInput.name = "i_date";
    dateInput.min = new Date(CB.serverNow()).toISOString().slice(0, 10);
    $("instalment-rows").append(el("li", {}, amountInput, dateInput));
  }

  $("btn-add-instalment").addEventListener("click", () => addInstalment());
  $("ptp-plan").addEventListener("change", (event) => {
    const plan = event.target.checked;
    $("ptp-single").hidden = plan;
    $("ptp-instalments").hidden = !plan;
    if (plan && !$("instalment-rows").children.length) { addInstalment(); addInstalment(); addInstalment(); }
  });

  function instalments() {
    return [...$("instalment-rows").children].map((row) => ({
      amount: String(row.querySelector('[name="i_amount"]').value || "").replace(",", "."),
      due_on: row.querySelector('[name="i_date"]').value,
    })).filter((i) => i.amount || i.due_on);
  }

  const wrapForm = $("wrapup");

  function wrapKey() {
    const linkedid = desk.call ? desk.call.linkedid : "";
    const storeKey = "cb-wrap-" + linkedid;
    let key = sessionStorage.getItem(storeKey);
    if (!key) {
      key = (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random().toString(16).slice(2));
      sessionStorage.setItem(storeKey, key);
    }
    return key;
  }

  function resetWrapup() {
    wrapForm.reset();
    $("f-promise").hidden = true;
    $("f-callback").hidden = true;
    $("ptp-single").hidden = false;
    $("ptp-instalments").hidden = true;
    clear($("instalment-rows"));
    $("wrapup-msg").textContent = "";
    $("wrapup-msg").className = "msg";
    const today = new Date(CB.serverNow()).toISOString().slice(0, 10);
    $("ptp-date").min = today;
    wrapForm.elements.cb_date.min = today;
  }

  function fillDebts() {
    const select = $("ptp-debt");
    clear(select);
    const debts = desk.card ? desk.card.debts : [];
    for (const d of debts) {
      select.append(el("option", {value: String(d.id), text: d.reference + " — " + money(d.balance) + " " + d.currency}));
    }
    $("cb-zone").textContent = desk.card && desk.card.timezone ? "(" + desk.card.timezone + ")" : "";
    fillPaymentDebts();
  }

  wrapForm.addEventListener("change", (event) => {
    if (event.target.name !== "disposition") return;
    $("f-promise").hidden = event.target.dataset.promise !== "true";
    $("f-callback").hidden = event.target.dataset.callback !== "true";
  });

  function wrapMessage(text, kind) { const m = $("wrapup-msg"); m.textContent = text; m.className = "msg " + (kind || ""); }

  async function saveWrapup() {
    if (!desk.call) { wrapMessage(t("waiting_call"), "error"); return; }
    const data = new FormData(wrapForm);
    const disposition = data.get("disposition");
    if (!disposition) { wrapMessage(t("disposition_required"), "error"); focusDisposition(); return; }
    const body = {key: wrapKey(), linkedid: desk.call.linkedid, disposition, notes: data.get("notes") || ""};
    const chosen = wrapForm.querySelector('input[name="disposition"]:checked');
    if (chosen.dataset.promise === "true" && $("ptp-plan").checked) {
      body.promise = {debt_id: data.get("debt_id"), instalments: instalments()};
    } else if (chosen.dataset.promise === "true") {
      const amount = String(data.get("amount") || "").replace(",", ".");
      const debt = desk.card && desk.card.debts.find((d) => String(d.id) === data.get("debt_id"));
      if (debt && Number(amount) > Number(debt.balance)) {
        wrapMessage(t("amount") + " > " + t("balance") + " " + money(debt.balance), "error"); return;
      }
      body.promise = {debt_id: data.get("debt_id"), amount, due_on: data.get("due_on")};
    }
    if (chosen.dataset.callback === "true") {
      body.callback = {local: data.get("cb_date") + "T" + data.get("cb_time"), assign: data.get("assign")};
    }
    try {
      await api("POST", "/desk/wrapup", body);
      desk.disposed = true;
      $("wrapup-box").classList.remove("attention");
      wrapMessage(t("saved"), "ok");
      resync();
    } catch (err) { wrapMessage(err.message, "error"); }
  }

  wrapForm.addEventListener("submit", (event) => { event.preventDefault(); saveWrapup(); });

  function focusDisposition() {
    const first = wrapForm.querySelector('input[name="disposition"]:checked') || wrapForm.querySelector('input[name="disposition"]');
    if (first) first.focus();
  }

  /* ---- callbacks ---------------------------------------------------------------------- */

  function renderCallbacks(items) {
    const list = $("callbacks");
    clear(list);
    if (!items.length) list.append(el("li", {className: "muted", text: t("none")}));
    for (const task of items) {
      const done = el("button", {className: "btn small", type: "button", text: "✓"});
      done.addEventListener("click", async () => {
        try { await api("POST", "/api/tasks/" + task.id + "/done", {}); resync(); } catch (err) { fail(err); }
      });
      const row = el("li", {className: task.overdue ? "overdue" : ""},
        el("span", {text: dateTime(task.due_at)}),
        el("span", {className: "grow", text: (task.name || task.phone) + (task.note ? " — " + task.note : ""),
                    title: task.overdue ? t("overdue") : t("due")}),
        done);
      list.append(row);
    }
  }

  /* ---- tabs, live updates, resync ----------------------------------------------------- */

  function setActive(active) {
    desk.active = active;
    $("readonly").hidden = active;
    document.body.classList.toggle("read-only", !active);
    for (const button of document.querySelectorAll(".statebar button, .call-controls button, #wrapup button, #quick-create button, #dial button")) {
      button.disabled = !active;
    }
    if (active && desk.agent) renderAgent(desk.agent);
    if (active && desk.call) renderCall(desk.call);
  }
  $("btn-claim").addEventListener("click", () => socket.send({type: "claim"}));

  async function resync() {
    try {
      const state = await api("GET", "/desk/state");
      CB.syncClock(state.server_now);
      renderAgent(state.agent);
      renderCall(state.call);
      desk.disposed = state.disposed;
      renderToday(state.today);
      renderCallbacks(state.callbacks);
    } catch (err) {
      if (err.status === 401) location.href = "/login"; else fail(err);
    }
  }

  function onMessage(message) {
    if (message.type === "agent" && message.agent.agent_id === boot.user.agent_id) {
      const was = desk.agent && desk.agent.state;
      renderAgent(message.agent);
      if (["ready", "paused"].includes(message.agent.state) && was === "wrap_up") resync();
      if (["ready", "paused", "logged_out"].includes(message.agent.state)) renderCall(null);
    } else if (message.type === "offer") {
      renderCall(message.call);
      document.title = "☎ " + (message.call.caller_number || "") + " · Callboard";
    } else if (message.type === "call") {
      if (desk.call && desk.call.linkedid === message.call.linkedid) {
        renderCall(Object.assign({}, desk.call, message.call, {card: desk.call.card || message.call.card}));
      }
    } else if (message.type === "callback_due") {
      flash(t("callbacks") + ": " + (message.task.name || message.task.phone) + " " + dateTime(message.task.due_at));
      resync();
    } else if (message.type === "tab") {
      setActive(message.active);
    }
  }

  /* ---- keyboard ----------------------------------------------------------------------- */

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey && event.key === "Enter") { event.preventDefault(); saveWrapup(); return; }
    if (!event.altKey || event.ctrlKey || event.metaKey) return;
    const actions = {
      r: () => $("btn-ready").click(), p: () => $("btn-pause").click(), l: () => $("btn-login").click(),
      h: () => $("btn-hangup").click(), t: () => $("btn-xfer-agent").click(),
      s: () => $("search-q").focus(), d: () => focusDisposition(),
    };
    const action = actions[event.key.toLowerCase()];
    if (action) { event.preventDefault(); action(); }
  });

  const socket = CB.connect("desk", {onOpen: resync, onMessage});
})();
