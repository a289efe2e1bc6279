/* Recordings: a player that follows the transcript word by word, the card's recorded calls,
   transcript search (a hit plays from its word), and the supervisor's recording alerts.
   Data only ever enters the page as text nodes (CB.el); highlights are built as <mark> nodes. */
"use strict";

(() => {
  const {t, el, clear, api, fail, duration, dateTime} = CB;
  const $ = (id) => document.getElementById(id);
  const audioUrl = (id) => "/api/recordings/" + encodeURIComponent(id) + "/audio";

  function clock(seconds) { return duration(seconds || 0); }

  function emptyRow(columns) {
    const cell = el("td", {className: "rec-muted", text: t("none")});
    cell.colSpan = columns;
    return el("tr", {}, cell);
  }

  function flagBadges(flags) {
    return flags.map((flag) => el("span", {className: "tag rec-flag", text: flag}));
  }

  /* One <audio> with its transcript; the word being said is marked as the audio plays. */
  class Player {
    constructor(root) {
      this.root = root;
      this.audio = root.querySelector("audio");
      this.words = root.querySelector(".rec-words");
      this.title = root.querySelector(".rec-title");
      this.keywords = root.querySelector(".rec-keywords");
      this.download = root.querySelector(".rec-download");
      this.recordingId = null;
      this.spans = [];  // word spans in time order, each with dataset.start / dataset.end
      this.current = null;
      this.audio.addEventListener("timeupdate", () => this.follow());
      this.audio.addEventListener("seeked", () => this.follow());
      this.audio.addEventListener("error", () => {
        if (this.recordingId !== null) fail(new Error(t("error") + ": " + t("recordings")));
      });
    }

    async open(item, startAt) {
      this.root.hidden = false;
      if (this.recordingId !== item.recording_id) {
        this.recordingId = item.recording_id;
        this.title.textContent = dateTime(item.started_at) + (item.agent ? " · " + item.agent : "");
        this.audio.src = audioUrl(item.recording_id);
        this.download.href = audioUrl(item.recording_id) + "?download=1";
        await this.loadTranscript(item.recording_id);
      }
      if (startAt !== null && startAt !== undefined) this.seek(startAt);
      try { await this.audio.play(); } catch (err) { if (err.name !== "AbortError") fail(err); }
    }

    seek(seconds) {
      const go = () => { this.audio.currentTime = Math.max(0, seconds); };
      if (this.audio.readyState >= 1) go();
      else this.audio.addEventListener("loadedmetadata", go, {once: true});
    }

    async loadTranscript(recordingId) {
      clear(this.words); clear(this.keywords);
      this.spans = []; this.current = null;
      try {
        const transcript = await api("GET", "/api/recordings/" + recordingId + "/transcript");
        if (this.recordingId === recordingId) this.render(transcript);
      } catch (err) {
        if (err.code === "recordings.no_transcript") {
          this.words.append(el("p", {className: "rec-muted", text: t("rec_no_transcript")}));
        } else fail(err);
      }
    }

    render(transcript) {
      const items = transcript.words.map((word) => ({at: word.start, word}))
        .concat(transcript.pauses.map((pause) => ({at: pause.start, pause})))
        .sort((a, b) => a.at - b.at);
      for (const item of items) {
        if (item.pause) {
          this.words.append(el("span", {className: "rec-pause",
            text: "[" + t("rec_paused") + " " + clock(item.pause.start) + "–" + clock(item.pause.end) + "]"}), " ");
          continue;
        }
        const word = item.word;
        const span = el("span", {
          className: "rec-word" + (word.confidence < 0.5 ? " low" : "") + (word.channel ? " ch" + word.channel : ""),
          text: word.text,
          title: clock(word.start) + " · " + Math.round(word.confidence * 100) + "%",
          dataset: {start: word.start, end: word.end},
        });
        span.addEventListener("click", () => { this.seek(word.start); this.audio.play().catch(() => {}); });
        this.spans.push(span);
        this.words.append(span, " ");
      }
      for (const hit of transcript.keywords) {
        const badge = el("button", {type: "button", className: "tag rec-flag",
                                    text: hit.keyword + " " + clock(hit.start), title: clock(hit.start)});
        badge.addEventListener("click", () => { this.seek(hit.start); this.audio.play().catch(() => {}); });
        this.keywords.append(badge);
      }
      this.follow();
    }

    /* The last word that has started by now (binary search: transcripts run to thousands). */
    follow() {
      const now = this.audio.currentTime;
      let low = 0, high = this.spans.length - 1, found = -1;
      while (low <= high) {
        const mid = (low + high) >> 1;
        if (Number(this.spans[mid].dataset.start) <= now) { found = mid; low = mid + 1; } else high = mid - 1;
      }
      const span = found >= 0 && now <= Number(this.spans[found].dataset.end) + 0.6 ? this.spans[found] : null;
      if (span === this.current) return;
      if (this.current) this.current.classList.remove("current");
      this.current = span;
      if (!span) return;
      span.classList.add("current");
      const box = this.words;  // keep the word in view without scrolling the page
      if (span.offsetTop < box.scrollTop || span.offsetTop > box.scrollTop + box.clientHeight - 20) {
        box.scrollTop = span.offsetTop - box.clientHeight / 3;
      }
    }

    close() {
      this.audio.pause();
      this.audio.removeAttribute("src");
      this.recordingId = null;
      this.root.hidden = true;
    }
  }

  /* ---- the operator's card: the debtor's recorded calls ---------------------------------- */

  function startCard() {
    const section = $("rec-card");
    const player = new Player($("rec-card-player"));
    let shown = null;
    let pending = null;

    let cardFlags = [];

    /* The debtor's keyword flags beside the card's own badges (which the desk redraws). */
    function badge() {
      for (const old of document.querySelectorAll("#card-badges .rec-flag")) old.remove();
      const badges = $("card-badges");
      if (badges) badges.append(...flagBadges(cardFlags));
    }

    async function show(contactId) {
      if (contactId === shown) { badge(); return; }
      shown = contactId;
      cardFlags = [];
      badge();
      player.close();
      if (contactId === null) { section.hidden = true; return; }
      try {
        const data = await api("GET", "/api/recordings?contact_id=" + encodeURIComponent(contactId));
        if (shown !== contactId) return;
        renderList(data);
      } catch (err) { section.hidden = true; fail(err); }
    }

    function renderList(data) {
      const body = $("rec-card-list").tBodies[0];
      clear(body);
      for (const item of data.items) {
        const play = item.playable
          ? el("button", {type: "button", className: "btn small", text: "▶ " + t("rec_play")})
          : el("span", {className: "rec-muted", text: item.status === "stored" ? t("rec_not_yours") : item.status});
        if (item.playable) play.addEventListener("click", () => player.open(item, null));
        body.append(el("tr", {dataset: {recording: item.recording_id}},
          el("td", {text: dateTime(item.started_at)}), el("td", {className: "num", text: clock(item.duration_s)}),
          el("td", {text: item.agent}), el("td", {}, ...flagBadges(item.flags)), el("td", {}, play)));
      }
      const flags = $("rec-card-flags");
      clear(flags);
      flags.append(...flagBadges(data.flags));
      cardFlags = data.flags;
      badge();
      section.hidden = data.items.length === 0;
    }

    /* The desk tells us the card's contact with a "cb:card" event when it can; until then the
       card on screen is matched against the current call (a searched card shows no recordings). */
    let told = false;
    document.addEventListener("cb:card", (event) => { told = true; shown = undefined; show(event.detail.contact_id); });
    async function fromCall() {
      if (told) return;
      const card = $("card");
      if (!card || card.hidden) { show(null); return; }
      try {
        const state = await api("GET", "/desk/state");
        const call = state.call;
        const same = call && call.card && call.card.name === $("card-name").textContent;
        show(same ? call.contact_id : null);
      } catch (err) { fail(err); }
    }
    const watched = [$("card-name"), $("card")].filter(Boolean);
    const observer = new MutationObserver(() => { clearTimeout(pending); pending = setTimeout(fromCall, 150); });
    for (const node of watched) observer.observe(node, {childList: true, characterData: true, subtree: true, attributes: true, attributeFilter: ["hidden"]});
  }

  /* ---- transcript search: a hit plays from its first matching word ------------------------ */

  function snippet(fragments) {
    return el("span", {className: "rec-snippet"},
      ...fragments.map((part) => (part.hit ? el("mark", {text: part.text}) : document.createTextNode(part.text))));
  }

  function startSearch() {
    const player = new Player($("rec-page-player"));
    const form = $("rec-search-form");
    async function run() {
      const q = $("rec-q").value.trim();
      const list = $("rec-hits");
      clear(list);
      $("rec-no-hits").hidden = true;
      if (!q) return;
      history.replaceState(null, "", "/recordings?q=" + encodeURIComponent(q));
      try {
        const data = await api("GET", "/api/recordings/search?q=" + encodeURIComponent(q));
        $("rec-no-hits").hidden = data.items.length > 0;
        for (const hit of data.items) {
          const play = el("button", {type: "button", className: "btn small rec-play",
                                     text: "▶ " + clock(hit.start)});
          play.addEventListener("click", () => player.open(hit, hit.start));
          list.append(el("li", {dataset: {recording: hit.recording_id}}, play,
            el("span", {className: "grow"}, snippet(hit.fragments)),
            ...flagBadges(hit.flags),
            el("small", {text: dateTime(hit.started_at) + (hit.agent ? " · " + hit.agent : "")})));
        }
      } catch (err) { fail(err); }
    }
    form.addEventListener("submit", (event) => { event.preventDefault(); run(); });
    run();
  }

  /* ---- supervisor: missing or damaged recordings and keyword flags, kept live ------------- */

  function startAlerts() {
    const player = new Player($("rec-alerts-player"));
    async function load() {
      try {
        const data = await api("GET", "/api/recordings/alerts");
        const alerts = $("rec-alert-list").tBodies[0];
        clear(alerts);
        for (const a of data.alerts) {
          alerts.append(el("tr", {className: "rec-alert", dataset: {recording: a.recording_id}},
            el("td", {text: dateTime(a.started_at)}), el("td", {text: a.agent}), el("td", {text: a.queue}),
            el("td", {}, el("span", {className: "tag broken", text: a.status})), el("td", {text: a.problem}),
            el("td", {className: "rec-path", text: a.path}), el("td", {className: "num", text: a.checks}),
            el("td", {text: dateTime(a.next_check_at)})));
        }
        if (!data.alerts.length) alerts.append(emptyRow(8));
        const count = $("rec-alert-count");
        count.textContent = data.alerts.length;
        count.classList.toggle("broken", data.alerts.length > 0);
        const flagged = $("rec-flag-list").tBodies[0];
        clear(flagged);
        for (const item of data.flagged) {
          const play = el("button", {type: "button", className: "btn small", text: "▶ " + t("rec_play")});
          play.addEventListener("click", () => player.open(item, null));
          flagged.append(el("tr", {dataset: {recording: item.recording_id}},
            el("td", {text: dateTime(item.started_at)}), el("td", {text: item.agent}), el("td", {text: item.campaign}),
            el("td", {}, ...flagBadges(item.flags)), el("td", {}, play)));
        }
        if (!data.flagged.length) flagged.append(emptyRow(5));
      } catch (err) { fail(err); }
    }
    CB.connect("panel", {
      onOpen: load,
      onMessage: (message) => { if (String(message.type).startsWith("recording_")) load(); },
    });
  }

  if ($("rec-card")) startCard();
  if ($("rec-search-form")) startSearch();
  if ($("rec-alerts")) startAlerts();
})();
