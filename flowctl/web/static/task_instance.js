// The task instance page: follows the selected try's log while it runs (new text appended as text, never
// as HTML) and keeps the state, try number and duration current without reloading the page.
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

  const followState = (page) => {
    const label = document.getElementById("ti-state");
    const tryNumber = document.getElementById("ti-try");
    const duration = document.getElementById("ti-duration");
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
        if (duration) duration.textContent = data.duration;
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
