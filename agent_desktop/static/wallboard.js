/* Wallboard: big figures and a canvas chart of calls waiting and service level, last hour. */
"use strict";

(() => {
  const {duration} = CB;
  const $ = (id) => document.getElementById(id);
  const canvas = $("wb-canvas");

  function pct(within, counted) { return counted ? (100 * within / counted).toFixed(0) + "%" : "–"; }

  function renderTiles() {
    const s = Panels.totals();
    $("wb-waiting").textContent = s.waiting;
    $("wb-waiting").className = "big" + (s.waiting > 5 ? " bad" : "");
    $("wb-longest").textContent = s.oldest ? duration(CB.since(s.oldest)) : "0:00";
    $("wb-sl30").textContent = pct(s.within30, s.counted30);
    $("wb-sltoday").textContent = pct(s.withinToday, s.countedToday);
    $("wb-abandoned").textContent = s.abandoned;
    $("wb-ready").textContent = s.ready;
    $("wb-busy").textContent = s.busy;
    $("wb-paused").textContent = s.paused;
  }

  function drawChart() {
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth, height = canvas.clientHeight;
    if (canvas.width !== width * ratio) { canvas.width = width * ratio; canvas.height = height * ratio; }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const pad = {l: 40, r: 44, t: 10, b: 22};
    const w = width - pad.l - pad.r, h = height - pad.t - pad.b;
    const now = CB.serverNow(), start = now - 3600 * 1000;
    const points = Panels.state.history.filter((p) => Date.parse(p.t) >= start);
    const maxWaiting = Math.max(4, Math.ceil(Math.max(0, ...points.map((p) => p.waiting)) / 4) * 4);
    const x = (iso) => pad.l + w * (Date.parse(iso) - start) / (3600 * 1000);
    ctx.font = "12px system-ui, sans-serif";
    ctx.strokeStyle = "#2a3a52"; ctx.fillStyle = "#93a4bd"; ctx.lineWidth = 1;
    for (let i = 0; i <= 4; i++) {
      const y = pad.t + h * i / 4;
      ctx.beginPath(); ctx.moveTo(pad.l, y); ctx.lineTo(pad.l + w, y); ctx.stroke();
      ctx.textAlign = "right"; ctx.fillText(String(Math.round(maxWaiting * (4 - i) / 4)), pad.l - 6, y + 4);
      ctx.textAlign = "left"; ctx.fillText((100 - 25 * i) + "%", pad.l + w + 6, y + 4);
    }
    for (let m = 0; m <= 60; m += 10) {
      ctx.textAlign = "center";
      ctx.fillText(m === 60 ? "now" : "-" + (60 - m) + "m", pad.l + w * m / 60, height - 6);
    }
    const line = (color, valueOf) => {
      ctx.strokeStyle = color; ctx.lineWidth = 2.5; ctx.beginPath();
      let drawing = false;
      for (const p of points) {
        const v = valueOf(p);
        if (v === null || v === undefined) { drawing = false; continue; }
        const px = x(p.t), py = pad.t + h * (1 - v);
        if (drawing) ctx.lineTo(px, py); else { ctx.moveTo(px, py); drawing = true; }
      }
      ctx.stroke();
    };
    line("#60a5fa", (p) => p.waiting / maxWaiting);
    line("#4ade80", (p) => (p.sl === null ? null : p.sl / 100));
    ctx.fillStyle = "#60a5fa"; ctx.textAlign = "left"; ctx.fillText("■ waiting", pad.l + 6, pad.t + 14);
    ctx.fillStyle = "#4ade80"; ctx.fillText("■ SL 30m", pad.l + 86, pad.t + 14);
  }

  Panels.start(() => { renderTiles(); drawChart(); });
  window.addEventListener("resize", drawChart);
})();
