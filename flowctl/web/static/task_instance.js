// The task instance page: follows the selected try's log while it runs (new text appended as text, never
// as HTML) and keeps the state, try, its times and duration current without reloading the page: they
// all come from one answer, so a cleared or retried instance never shows a new state with an old try's times.
"use strict";

(() => {
  const LOG_SECONDS = 2;
  const STATE_SECONDS = 3;

  const followLog = (pre) => {
    let offset = Number(pre.dataset.offset) || 0;
    let busy = false;
    let stopped = false;
    let timer = null;
    const status = document.getElementById("log-status");
    const missing = document.getElementById("log-missing");
    const atBottom = () => pre.scrollHeight - pre.scrollTop - pre.clientHeight < 40;

    const stop = (message) => {
      stopped = true;
      clearInterval(timer);
      if (status) status.textContent = message;
    };

    const fetchMore = async () => {
      if (busy || stopped) return;
      busy = true;
      try {
        // Read until caught up: one answer carries at most a bounded chunk.
        for (;;) {
          const url = new URL(pre.dataset.logUrl, window.location.href);
          url.searchParams.set("offset", String(offset));
          const data = await flowctl.getJson(url.toString());
          const follow = atBottom();
          if (data.reset) pre.textContent = "";
          if (data.text) {
            pre.appendChild(document.createTextNode(data.text));
            if (missing) missing.hidden = true;
          }
          if (follow) pre.scrollTop = pre.scrollHeight;
          offset = data.offset;
          if (!data.more || !data.text) {
            if (data.finished) stop(`The try ended (${data.state}).`);
            break;
          }
        }
      } catch (error) {
        stop(`Stopped following the log: ${error.message}`);
      } finally {
        busy = false;
      }
    };

    pre.scrollTop = pre.scrollHeight;
    timer = flowctl.poll(fetchMore, LOG_SECONDS);
    fetchMore();
  };

  // A time as the server renders it (presenters.when): a <time> in the UI zone or UTC, or a muted dash.
  const showTime = (cell, parts) => {
    if (!cell) return;
    if (cell.querySelector("time")?.dateTime === parts?.iso) return;
    let shown;
    if (parts) {
      shown = document.createElement("time");
      shown.dateTime = parts.iso;
      shown.dataset.utc = parts.utc;
      shown.dataset.local = parts.local;
      shown.textContent = flowctl.useUtc() ? parts.utc : parts.local;
    } else {
      shown = document.createElement("span");
      shown.className = "muted";
      shown.textContent = "-";
    }
    cell.replaceChildren(shown);
  };

  const followState = (page) => {
    const label = document.getElementById("ti-state");
    const tryNumber = document.getElementById("ti-try");
    const triesAllowed = document.getElementById("ti-max-tries");
    const duration = document.getElementById("ti-duration");
    const host = document.getElementById("ti-host");
    const changed = document.getElementById("ti-changed");
    const shownState = page.dataset.state;
    const shownTry = page.dataset.tryNumber;
    let timer = null;
    let stopped = false;

    const refresh = async () => {
      if (stopped) return;
      try {
        const data = await flowctl.getJson(page.dataset.stateUrl);
        if (label) {
          label.textContent = data.state;
          label.className = `state-label state-${data.state}`;
        }
        if (tryNumber) tryNumber.textContent = String(data.try_number);
        if (triesAllowed) triesAllowed.textContent = String(data.tries_allowed);
        showTime(document.getElementById("ti-queued-at"), data.queued_at);
        showTime(document.getElementById("ti-start-date"), data.start_date);
        showTime(document.getElementById("ti-end-date"), data.end_date);
        if (duration) duration.textContent = data.duration;
        if (host) host.textContent = data.host;
        if (changed && (data.state !== shownState || String(data.try_number) !== shownTry)) changed.hidden = false;
      } catch (error) {
        stopped = true;
        clearInterval(timer);
      }
    };
    timer = flowctl.poll(refresh, STATE_SECONDS);
  };

  document.addEventListener("DOMContentLoaded", () => {
    const page = document.getElementById("ti-page");
    if (page) followState(page);
    const pre = document.getElementById("log-text");
    if (pre && pre.dataset.live === "1") followLog(pre);
  });
})();
