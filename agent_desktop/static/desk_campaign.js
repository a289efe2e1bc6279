/* The desk's campaign bar: join a campaign, see what it is doing, leave it after the call. */
"use strict";

(() => {
  const {t, el, clear, api, fail} = CB;
  const $ = (id) => document.getElementById(id);
  const bar = $("campaign-bar");
  let seat = null;
  let busy = false;
  let preview = null;  // the debtor reserved for this operator (preview campaigns)
  let deadline = 0;  // local ms when the countdown ends

  function render(data) {
    const campaigns = data.campaigns || [];
    seat = data.seat;
    bar.hidden = campaigns.length === 0 && !seat;
    const pick = $("campaign-pick");
    const chosen = pick.value;
    clear(pick);
    for (const c of campaigns) {
      const label = c.name + (c.blended ? " (" + t("blended") + ")" : "") + (c.state === "running" ? "" : " · " + t(c.state));
      pick.append(el("option", {value: String(c.campaign_id), text: label}));
    }
    if (chosen) pick.value = chosen;
    pick.hidden = $("btn-join-campaign").hidden = Boolean(seat);
    $("btn-join-campaign").disabled = busy || campaigns.length === 0;
    $("btn-leave-campaign").hidden = !seat || seat.state === "leaving" || seat.state === "joining";
    $("campaign-name").textContent = seat ? seat.name + (seat.blended ? " (" + t("blended") + ")" : "") : "";
    const state = seat ? seat.state : "none";
    const box = $("campaign-state");
    box.className = "campaign-state seat-" + state;
    box.dataset.state = state;
    box.textContent = t("seat_" + state);
    if (!seat || seat.dial_mode !== "preview" || seat.state !== "waiting") showPreview(null);
  }

  // -- preview mode: the card, the countdown, Dial / Skip ---------------------------------------

  function showPreview(p) {
    const card = $("preview-card");
    const same = p && preview && p.debt_id === preview.debt_id;
    preview = p;
    card.hidden = !seat || seat.dial_mode !== "preview" || seat.state !== "waiting";
    $("btn-preview-dial").disabled = $("btn-preview-skip").disabled = !p || busy;
    if (!p) {
      $("preview-debtor").textContent = card.hidden ? "" : t("preview_none");
      $("preview-countdown").textContent = "";
      clear($("preview-phone"));
      return;
    }
    deadline = Date.now() + p.remaining_s * 1000;
    if (same) return;  // keep the operator's choices
    $("preview-debtor").textContent = p.creditor + " · " + p.balance + " · " + p.days_past_due + "d";
    const phones = $("preview-phone");
    clear(phones);
    for (const number of p.phones) phones.append(el("option", {value: number, text: number}));
    phones.value = p.phone;
    const reasons = $("preview-reason");
    clear(reasons);
    for (const r of p.skip_reasons) reasons.append(el("option", {value: r, text: t("skip_" + r)}));
    tick();
  }

  function tick() {
    if (!preview) return;
    const left = Math.max(0, Math.ceil((deadline - Date.now()) / 1000));
    const what = preview.on_timeout === "skip" ? "preview_auto_skip" : "preview_auto_dial";
    $("preview-countdown").textContent = t(what) + " " + left + " s";
  }

  async function refreshPreview() {
    if (!seat || seat.dial_mode !== "preview" || seat.state !== "waiting" || busy) return;
    try { showPreview((await api("GET", "/desk/campaign/preview")).preview); } catch (err) { showPreview(null); if (err.status !== 409) fail(err); }
  }

  async function act(path, body) {
    busy = true;
    showPreview(preview);
    try { await api("POST", path, body); preview = null; } catch (err) { fail(err); }
    busy = false;
    refresh();
  }

  $("btn-preview-dial").addEventListener("click", () => {
    if (preview) act("/desk/campaign/preview/dial", {phone: $("preview-phone").value});
  });
  $("btn-preview-skip").addEventListener("click", () => {
    if (preview) act("/desk/campaign/preview/skip", {reason: $("preview-reason").value});
  });

  async function refresh() {
    try { render(await api("GET", "/desk/campaign")); } catch (err) { if (err.status !== 503) fail(err); else bar.hidden = true; }
    await refreshPreview();
  }

  $("btn-join-campaign").addEventListener("click", async () => {
    const id = Number($("campaign-pick").value);
    if (!id) return;
    busy = true;
    render({campaigns: [], seat: {campaign_id: id, name: $("campaign-pick").selectedOptions[0].textContent, state: "joining", blended: false}});
    try { await api("POST", "/desk/campaign/join", {campaign_id: id}); } catch (err) { fail(err); }
    busy = false;
    refresh();
  });
  $("btn-leave-campaign").addEventListener("click", async () => {
    try { await api("POST", "/desk/campaign/leave"); } catch (err) { fail(err); }
    refresh();
  });

  refresh();
  setInterval(refresh, 1500);
  setInterval(tick, 250);
})();
