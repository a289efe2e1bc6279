/* Live panel state shared by the supervisor page and the wallboard: agents, queues, history. */
"use strict";

const Panels = (() => {
  const state = {agents: new Map(), queues: new Map(), history: [], link: null};
  const listeners = [];

  function apply(message) {
    if (message.type === "agent") state.agents.set(message.agent.agent_id, message.agent);
    else if (message.type === "queue") state.queues.set(message.queue.name, message.queue);
    else if (message.type === "history") {
      state.history.push(message.point);
      if (state.history.length > 240) state.history.shift();
    } else if (message.type === "link") state.link = message.link;
    else return;
    for (const listener of listeners) listener(message.type);
  }

  async function resync() {
    try {
      const snapshot = await CB.api("GET", "/supervisor/state");
      CB.syncClock(snapshot.server_now);
      state.agents = new Map(snapshot.agents.map((a) => [a.agent_id, a]));
      state.queues = new Map(snapshot.queues.map((q) => [q.name, q]));
      state.history = snapshot.history;
      state.link = snapshot.link;
      for (const listener of listeners) listener("all");
    } catch (err) {
      if (err.status === 401) location.href = "/login"; else CB.fail(err);
    }
  }

  /* figures summed over every queue, for the wallboard's tiles */
  function totals() {
    const sum = {waiting: 0, oldest: null, abandoned: 0, ready: 0, busy: 0, paused: 0,
                 within30: 0, counted30: 0, withinToday: 0, countedToday: 0};
    for (const q of state.queues.values()) {
      sum.waiting += q.waiting;
      if (q.oldest && (!sum.oldest || q.oldest < sum.oldest)) sum.oldest = q.oldest;
      if (q.today) {
        sum.abandoned += q.today.abandoned;
        sum.withinToday += q.today.answered_within_target;
        sum.countedToday += q.today.answered + q.today.abandoned;
      }
      if (q.recent) { sum.within30 += q.recent.answered_within_target; sum.counted30 += q.recent.answered + q.recent.abandoned; }
    }
    for (const a of state.agents.values()) {
      if (a.state === "ready") sum.ready += 1;
      else if (a.state === "paused") sum.paused += 1;
      else if (a.state !== "logged_out") sum.busy += 1;
    }
    return sum;
  }

  function start(onChange) {
    listeners.push(onChange);
    CB.connect("panel", {onOpen: resync, onMessage: apply});
    setInterval(() => onChange("tick"), 1000);
  }

  return {state, start, totals};
})();
