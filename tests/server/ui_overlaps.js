// Layout check run in the page by test_ui_browser.py: returns a list of problems.
// Containers (cards, charts, tables; outermost only) must not overlap one another,
// and a chart, lineage graph or table must not stick out of its own card.
(selector) => {
  const all = [...document.querySelectorAll(selector)].filter((el) => {
    const box = el.getBoundingClientRect();
    return box.width > 0 && box.height > 0 && getComputedStyle(el).visibility !== 'hidden';
  });
  const outer = all.filter((el) => !all.some((other) => other !== el && other.contains(el)));
  const name = (el) => el.tagName.toLowerCase() + (el.className && typeof el.className === 'string'
      ? '.' + el.className.trim().split(/\s+/).join('.') : '') +
      (el.dataset.testid ? `[${el.dataset.testid}]` : '');
  const found = [];
  for (let i = 0; i < outer.length; i++) {
    for (let j = i + 1; j < outer.length; j++) {
      const a = outer[i].getBoundingClientRect(), b = outer[j].getBoundingClientRect();
      const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
      const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
      if (w > 1 && h > 1) found.push(`${name(outer[i])} overlaps ${name(outer[j])} by ${w.toFixed(0)}x${h.toFixed(0)}`);
    }
  }
  // A chart (or lineage graph) that spills out of its own card hides what is beside it.
  for (const inner of document.querySelectorAll('.js-plotly-plot, svg.lineage, .figure > div, table')) {
    const card = inner.parentElement.closest('.card, .figure, .table-wrap, .table-scroll, section.card');
    if (!card || card.closest('.table-wrap, .table-scroll') && inner.tagName === 'TABLE') continue;
    const a = inner.getBoundingClientRect(), b = card.getBoundingClientRect();
    if (a.width && a.right > b.right + 1) found.push(`${name(inner)} sticks out of ${name(card)} by ${(a.right - b.right).toFixed(0)}px`);
  }
  return found;
}
