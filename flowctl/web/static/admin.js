// The admin pages: the connection type picker reloads the form when the type changes, and delete
// buttons ask first. Without scripts the picker has its own button and deletes happen at once.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  document.documentElement.classList.add("js");
  document.querySelectorAll("select.auto-submit").forEach((select) => {
    select.addEventListener("change", () => select.form.submit());
  });
  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });
});
