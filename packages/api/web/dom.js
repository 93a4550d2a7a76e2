// Small DOM helpers shared by the views.

const view = document.getElementById("view");
let leaveView = () => {};

/** Replaces the page's main view with a template; `onLeave` runs when the next view shows. */
export function show(templateId) {
  leaveView();
  leaveView = () => {};
  view.replaceChildren(document.getElementById(templateId).content.cloneNode(true));
}
export function onLeave(fn) {
  leaveView = fn;
}
export function showError(err) {
  view.textContent = `Error: ${err.message}`;
}

export const $ = (id) => document.getElementById(id);

export function cell(content, className) {
  const td = document.createElement("td");
  if (content instanceof Node) td.append(content);
  else td.textContent = content;
  if (className) td.className = className;
  return td;
}

export function bytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i ? n.toFixed(1) : n} ${units[i]}`;
}
