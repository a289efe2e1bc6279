/* The desk's campaign bar: join a campaign, see what it is doing, leave it after the call. */
"use strict";

(() => {
  const {t, el, clear, api, fail} = CB;
  const $ = (id) => document.getElementById(id);
  const bar = $("campaign-bar");
  let seat = null;
  let busy = false;

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
  }

  async function refresh() {
    try { render(await api("GET", "/desk/campaign")); } catch (err) { if (err.status !== 503) fail(err); else bar.hidden = true; }
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
})();
