// Modelyard UI: a little plain JavaScript; every page works without it.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-confirm]");
  if (button && !window.confirm(button.dataset.confirm)) event.preventDefault();
});
document.addEventListener("change", (event) => {
  const all = event.target.closest("[data-select-all]");
  if (!all) return;
  const table = all.closest("table");
  table.querySelectorAll("tbody input[type=checkbox]").forEach((box) => { box.checked = all.checked; });
});
