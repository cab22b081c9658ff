// flowctl pages: the UTC / local time switch, and small helpers the pages use to poll JSON and post
// forms with the CSRF token. No framework, nothing loaded from elsewhere.
"use strict";

const flowctl = (() => {
  const csrfToken = () => document.querySelector('meta[name="csrf-token"]')?.content || "";

  // Times are rendered in the UI time zone; the switch shows them in UTC instead (remembered per browser).
  const showTimes = (utc) => {
    document.querySelectorAll("time[data-utc]").forEach((el) => {
      el.textContent = utc ? el.dataset.utc : el.dataset.local;
    });
    const button = document.getElementById("tz-switch");
    if (button) {
      button.textContent = utc ? "UTC" : button.dataset.zone;
      button.setAttribute("aria-pressed", utc ? "true" : "false");
    }
  };
  const useUtc = () => localStorage.getItem("flowctl.utc") === "1";

  document.addEventListener("DOMContentLoaded", () => {
    const button = document.getElementById("tz-switch");
    if (button) {
      button.dataset.zone = button.textContent;
      button.addEventListener("click", () => {
        localStorage.setItem("flowctl.utc", useUtc() ? "0" : "1");
        showTimes(useUtc());
      });
    }
    showTimes(useUtc());
  });

  // GET a JSON document from this site; resolves to the parsed body, rejects on a non-2xx answer.
  const getJson = async (url) => {
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(`${url}: ${response.status}`);
    return response.json();
  };

  // Call `refresh` every `seconds` while the page is visible, and once more when it becomes visible.
  const poll = (refresh, seconds) => {
    const tick = () => { if (!document.hidden) refresh(); };
    document.addEventListener("visibilitychange", tick);
    return setInterval(tick, seconds * 1000);
  };

  return { csrfToken, getJson, poll, showTimes, useUtc };
})();
