// The audit trail (administrators; regulation art. 22: every access traceable), newest
// first, with the hash chain's verification result on top.

import { api } from "./api.js";
import { el, clear, clock } from "./dom.js";
import { t } from "./i18n.js";

// The action's name in the console's language; the API's own word when there is none.
function word(kind, value) {
  const key = `${kind}.${value}`;
  const text = t(key);
  return text === key ? value : text;
}

export function mount(container) {
  const verdict = el("p", { class: "verdict", id: "audit-verdict" }, t("loading"));
  const rows = el("tbody", { id: "audit-rows" });
  const more = el("button", { type: "button", id: "audit-more", hidden: true }, t("audit.more"));
  let before = null;

  container.append(el("section", { class: "admin" }, el("h1", {}, t("audit.title")),
    el("div", { class: "toolbar" }, verdict,
      el("button", { type: "button", id: "audit-verify", onclick: () => verify() }, t("audit.verify"))),
    el("table", { class: "audit" }, el("thead", {}, el("tr", {},
      [t("audit.at"), t("audit.actor"), t("audit.action"), t("audit.result"), t("audit.channel"), t("audit.source"), ""].map((head) => el("th", {}, head)))),
    rows), more));

  async function verify() {
    verdict.textContent = t("loading");
    try {
      const result = await api("GET", "/api/audit/verify");
      verdict.className = `verdict ${result.intact ? "ok" : "bad"}`;
      verdict.dataset.intact = String(result.intact);
      verdict.textContent = result.intact
        ? `✓ ${t("audit.intact")} (${result.rows} ${t("audit.rows")})`
        : `✗ ${t("audit.broken", { row: result.row_id })}: ${result.reason || result.problem}`;
    } catch (error) { verdict.textContent = error.message; verdict.className = "verdict bad"; }
  }

  async function page() {
    const query = new URLSearchParams({ limit: "100" });
    if (before !== null) query.set("before_id", String(before));
    try {
      const answer = await api("GET", `/api/audit?${query}`);
      rows.append(...answer.rows.map((row) => el("tr", { class: `result-${row.result}`, dataset: { action: row.action } },
        el("td", { class: "mono" }, row.at ? clock(new Date(row.at)) : ""),
        el("td", {}, row.actor.name || row.actor.kind), el("td", { title: row.action }, word("action", row.action)),
        el("td", {}, word("result", row.result)),
        el("td", { class: "mono" }, row.channel_id || ""), el("td", { class: "mono" }, row.source || ""),
        el("td", { class: "detail" }, JSON.stringify(row.detail)))));
      before = answer.next_before_id ?? null;
      more.hidden = before === null;
    } catch (error) { clear(rows).append(el("tr", {}, el("td", { class: "error" }, error.message))); }
  }
  more.addEventListener("click", page);
  verify();
  page();
}
