// The DAGs page: refresh each row's run counts, last run and recent task states from /dags.json every
// few seconds, without reloading. Built with DOM calls only (textContent), never from HTML strings.
"use strict";

(() => {
  const REFRESH_SECONDS = 5;
  const RUN_STATES = ["queued", "running", "success", "failed"];
  const STATES = ["success", "running", "failed", "upstream_failed", "skipped", "up_for_retry",
    "up_for_reschedule", "queued", "scheduled", "restarting", "removed", "none"];

  const element = (tag, className, text) => {
    const el = document.createElement(tag);
    if (className) el.className = className;
    if (text !== undefined) el.textContent = text;
    return el;
  };

  const timeElement = (parts) => {
    const el = element("time");
    el.setAttribute("datetime", parts.iso);
    el.dataset.utc = parts.utc;
    el.dataset.local = parts.local;
    el.textContent = flowctl.useUtc() ? parts.utc : parts.local;
    return el;
  };

  const count = (state, n, round) => {
    const el = element("span", "count" + (n ? "" : " zero"));
    el.dataset.state = state;
    el.title = round ? `${n} ${state} run${n === 1 ? "" : "s"}` : `${n} ${state}`;
    el.append(element("span", `state${round ? " round" : ""} state-${state}`), element("span", "n", String(n)));
    return el;
  };

  const updateRow = (row, dag) => {
    const runs = row.querySelector("td.run-counts");
    if (runs) {
      runs.replaceChildren(...RUN_STATES.map((state) => count(state, dag.run_counts[state] || 0, true)));
    }
    const last = row.querySelector("td.last-run");
    if (last) {
      if (dag.last_run) {
        const label = element("span", `state-label state-${dag.last_run.state}`, dag.last_run.state);
        last.replaceChildren(timeElement(dag.last_run.logical_date), " ", label);
      } else {
        last.replaceChildren(element("span", "muted", "-"));
      }
    }
    const recent = row.querySelector("td.recent-tasks");
    if (recent) {
      const shown = STATES.filter((state) => dag.task_counts[state]);
      recent.replaceChildren(...(shown.length
        ? shown.map((state) => count(state, dag.task_counts[state], false))
        : [element("span", "muted", "-")]));
    }
  };

  const refresh = async () => {
    const table = document.getElementById("dags");
    const rows = table ? [...table.querySelectorAll("tr[data-dag-id]")] : [];
    if (!rows.length) return;
    const query = new URLSearchParams();
    rows.forEach((row) => query.append("dag_ids", row.dataset.dagId));
    try {
      const answer = await flowctl.getJson(`${table.dataset.statesUrl}?${query}`);
      rows.forEach((row) => {
        const dag = answer.dags[row.dataset.dagId];
        if (dag) updateRow(row, dag);
      });
    } catch (error) {
      console.warn("flowctl: could not refresh DAG states", error);
    }
  };

  document.addEventListener("DOMContentLoaded", () => flowctl.poll(refresh, REFRESH_SECONDS));
})();
