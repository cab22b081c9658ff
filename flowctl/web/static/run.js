// The run page: keeps the run's state and its task instances' states, tries and durations current
// without reloading, until the run has finished.
"use strict";

(() => {
  const SECONDS = 3;
  const FINISHED = new Set(["success", "failed"]);

  document.addEventListener("DOMContentLoaded", () => {
    const page = document.getElementById("run-page");
    if (!page) return;
    const runState = document.getElementById("run-state");
    const runDuration = document.getElementById("run-duration");
    const rows = new Map();
    page.querySelectorAll("#run-tis tr[data-task-id]").forEach((row) => {
      rows.set(`${row.dataset.taskId}\u0000${row.dataset.mapIndex}`, row);
    });
    let timer = null;
    let stopped = false;
    let unfinished = page.dataset.finished !== "1";

    const setText = (row, field, value) => {
      const cell = row.querySelector(`[data-field="${field}"]`);
      if (cell) cell.textContent = value;
      return cell;
    };

    const stop = () => {
      stopped = true;
      clearInterval(timer);
    };

    const refresh = async () => {
      if (stopped) return;
      let data;
      try {
        data = await flowctl.getJson(page.dataset.statesUrl);
      } catch (error) {
        stop();
        return;
      }
      runState.textContent = data.state;
      runState.className = `state-label state-${data.state}`;
      if (runDuration) runDuration.textContent = data.duration;
      data.task_instances.forEach((ti) => {
        const row = rows.get(`${ti.task_id}\u0000${ti.map_index}`);
        if (!row) return;
        const label = setText(row, "state", ti.state);
        if (label) label.className = `state-label state-${ti.state}`;
        setText(row, "try_number", String(ti.try_number));
        setText(row, "duration", ti.duration);
      });
      // One more look after the run finishes, then stop (a clear brings the page back to life on reload).
      if (FINISHED.has(data.state)) {
        if (!unfinished) stop();
        unfinished = false;
      } else {
        unfinished = true;
      }
    };
    timer = flowctl.poll(refresh, SECONDS);
  });
})();
