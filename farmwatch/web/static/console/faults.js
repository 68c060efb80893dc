// Fault tickets (故障工单; regulation art. 19): the tickets of the farms the signed-in person
// supervises, filtered by state and kind; a ticket's detail and history with the steps the
// person may take (notified and fixed: anyone; verified, sent back, closed: administrators,
// the API refuses the others anyway); a ticket opened by hand; the farms flagged for more
// on-site inspection and the figures per organisation. The list follows the fault feed.

import { api } from "./api.js";
import { clock, el, clear } from "./dom.js";

// Node.append writes null as the text "null": leave the missing parts out.
function append(node, ...children) {
  node.append(...children.filter((child) => child !== null && child !== undefined));
}
import { t } from "./i18n.js";

const KINDS = ["offline", "start_failure", "media_timeout", "black", "overexposed", "frozen",
  "blurred", "low_contrast", "colour_cast", "other"];
const STATES = ["open", "farm_notified", "fixed", "verified", "closed"];
// The steps offered from each state, and whether they are for administrators only.
const STEPS = {
  open: [["farm_notified", false], ["fixed", false], ["closed", true]],
  farm_notified: [["fixed", false], ["closed", true]],
  fixed: [["verified", true], ["farm_notified", true], ["closed", true]],
  verified: [],
  closed: [],
};
const WAIT_SECONDS = 25;

function when(text) { return text ? clock(new Date(text)) : ""; }

function hours(seconds) {
  return seconds === null || seconds === undefined ? "—" : `${(seconds / 3600).toFixed(1)} ${t("fault.hours")}`;
}

function options(values, prefix, anyLabel) {
  return [el("option", { value: "" }, anyLabel), ...values.map((value) => el("option", { value }, t(`${prefix}.${value}`)))];
}

export function mount(container, context) {
  const admin = context.me && context.me.role === "administrator";
  let selected = null;
  let stopped = false;

  const stateFilter = el("select", { id: "fault-state" }, ...options(STATES, "fault.state", t("fault.anyState")));
  const kindFilter = el("select", { id: "fault-kind" }, ...options(KINDS, "fault.kind", t("fault.anyKind")));
  const openOnly = el("input", { type: "checkbox", id: "fault-open", checked: true });
  const rows = el("tbody", { id: "fault-rows" });
  const detail = el("div", { id: "fault-detail", class: "fault-detail" }, el("p", { class: "muted" }, t("fault.pick")));
  const flagged = el("ul", { id: "fault-flagged", class: "fault-flagged" });
  const stats = el("tbody", { id: "fault-stats" });
  const message = el("p", { id: "fault-message", class: "state" });

  const channel = el("input", { id: "fault-new-channel", placeholder: t("fault.channel"), size: 22, maxlength: 20 });
  const newKind = el("select", { id: "fault-new-kind" }, ...KINDS.map((kind) =>
    el("option", { value: kind, selected: kind === "other" }, t(`fault.kind.${kind}`))));
  const newDetail = el("input", { id: "fault-new-detail", placeholder: t("fault.detail"), size: 30, maxlength: 512 });
  const openForm = el("form", { id: "fault-new", class: "toolbar", onsubmit: async (event) => {
    event.preventDefault();
    try {
      const ticket = await api("POST", "/api/faults", {
        channel_id: channel.value.trim(), kind: newKind.value, detail: newDetail.value.trim() || null,
      });
      message.textContent = t("fault.opened", { id: ticket.id });
      message.className = "state";
      newDetail.value = "";
      await refresh();
      show(ticket.id);
    } catch (error) { message.textContent = error.message; message.className = "state error"; }
  } }, el("strong", {}, t("fault.new")), channel, newKind, newDetail,
  el("button", { type: "submit", id: "fault-new-submit" }, t("fault.submit")));

  container.append(el("section", { class: "faults" },
    el("h1", {}, t("fault.title")),
    el("p", { class: "muted" }, t("fault.rule")),
    el("div", { class: "fault-top" },
      el("div", {}, el("h2", {}, t("fault.flagged")), flagged),
      el("div", {}, el("h2", {}, t("fault.statistics")),
        el("table", { class: "fault-stats" }, el("thead", {}, el("tr", {},
          [t("fault.org"), t("fault.openCount"), t("fault.repaired"), t("fault.mean"), t("fault.median")].map((head) => el("th", {}, head)))),
        stats))),
    openForm, message,
    el("div", { class: "toolbar" }, stateFilter, kindFilter,
      el("label", {}, openOnly, t("fault.openOnly"))),
    el("div", { class: "fault-body" },
      el("table", { class: "fault-list" }, el("thead", {}, el("tr", {},
        ["#", t("fault.farm"), t("fault.camera"), t("fault.kindLabel"), t("fault.stateLabel"), t("fault.since"), t("fault.reminders")].map((head) => el("th", {}, head)))),
      rows),
      detail)));

  function farmLabel(id, name) {
    if (id === null || id === undefined) return t("fault.noFarm");
    return name || `#${id}`;
  }

  async function refresh() {
    const query = new URLSearchParams({ limit: "200" });
    if (stateFilter.value) query.set("state", stateFilter.value);
    if (kindFilter.value) query.set("kind", kindFilter.value);
    if (openOnly.checked && !stateFilter.value) query.set("open", "true");
    try {
      const answer = await api("GET", `/api/faults?${query}`);
      clear(rows);
      if (!answer.faults.length) rows.append(el("tr", {}, el("td", { colspan: 7, class: "muted" }, t("fault.none"))));
      for (const fault of answer.faults) {
        rows.append(el("tr", {
          class: `fault-row state-${fault.state}${fault.id === selected ? " selected" : ""}${fault.escalated ? " escalated" : ""}`,
          dataset: { fault: String(fault.id), state: fault.state, kind: fault.kind },
          onclick: () => show(fault.id),
        },
        el("td", {}, String(fault.id)), el("td", {}, farmLabel(fault.farm_id, fault.farm_name)),
        el("td", { class: "mono" }, fault.channel_id),
        el("td", {}, t(`fault.kind.${fault.kind}`)),
        el("td", {}, el("span", { class: `badge state-${fault.state}` }, t(`fault.state.${fault.state}`)),
          fault.escalated ? el("span", { class: "badge escalated" }, t("fault.escalated")) : null),
        el("td", {}, when(fault.since)), el("td", {}, String(fault.reminders.sent))));
      }
    } catch (error) { clear(rows).append(el("tr", {}, el("td", { colspan: 7, class: "error" }, error.message))); }
    refreshSide();
  }

  async function refreshSide() {
    try {
      const answer = await api("GET", "/api/faults/farms");
      clear(flagged);
      if (!answer.farms.length) flagged.append(el("li", { class: "muted" }, t("fault.noFlagged")));
      for (const farm of answer.farms) {
        flagged.append(el("li", { dataset: { farm: String(farm.farm_id) } },
          el("span", { class: "badge flag" }, t("fault.inspect")), ` ${farmLabel(farm.farm_id, farm.name)} · `,
          t("fault.openTickets", { count: farm.open })));
      }
    } catch (error) { clear(flagged).append(el("li", { class: "error" }, error.message)); }
    try {
      const answer = await api("GET", "/api/faults/statistics");
      clear(stats);
      if (!answer.organisations.length) stats.append(el("tr", {}, el("td", { colspan: 5, class: "muted" }, t("fault.none"))));
      for (const org of answer.organisations) {
        const byKind = Object.entries(org.open).map(([kind, count]) => `${t(`fault.kind.${kind}`)} ${count}`).join("，");
        stats.append(el("tr", { dataset: { organisation: String(org.organisation_id) } },
          el("td", {}, org.name), el("td", {}, `${org.open_total}${byKind ? `（${byKind}）` : ""}`),
          el("td", {}, String(org.repaired)), el("td", {}, hours(org.mean_repair_seconds)),
          el("td", {}, hours(org.median_repair_seconds))));
      }
    } catch (error) { clear(stats).append(el("tr", {}, el("td", { colspan: 5, class: "error" }, error.message))); }
  }

  async function show(id) {
    selected = id;
    for (const row of rows.querySelectorAll("tr.fault-row")) row.classList.toggle("selected", row.dataset.fault === String(id));
    let fault;
    try { fault = await api("GET", `/api/faults/${id}`); } catch (error) {
      clear(detail).append(el("p", { class: "error" }, error.message));
      return;
    }
    // A feed event re-renders the ticket being looked at: what the user was typing stays.
    const typed = detail.dataset.fault === String(id) ? detail.querySelector("#fault-remark") : null;
    const remark = el("input", { id: "fault-remark", placeholder: t("fault.remark"), size: 30, maxlength: 1024 });
    if (typed) remark.value = typed.value;
    // ...and so does where it was typing: keys pressed after the re-render go on landing in
    // the remark, not on the page.
    const caret = typed && document.activeElement === typed ? [typed.selectionStart, typed.selectionEnd] : null;
    detail.dataset.fault = String(id);
    const error = el("p", { class: "error", id: "fault-error" });
    const buttons = STEPS[fault.state].filter(([, adminOnly]) => admin || !adminOnly).map(([target]) =>
      el("button", { type: "button", id: `fault-to-${target}`, class: "fault-step", onclick: async () => {
        try {
          await api("POST", `/api/faults/${fault.id}/state`, { state: target, remark: remark.value.trim() || null });
          remark.value = "";  // sent: the next step starts with an empty remark
          await refresh();
          await show(fault.id);
        } catch (failure) { error.textContent = failure.message; }
      } }, t(`fault.to.${target}`)));
    append(clear(detail),
      el("h2", {}, `${t("fault.ticket")} #${fault.id} · ${t(`fault.kind.${fault.kind}`)}`),
      el("dl", {},
        el("dt", {}, t("fault.stateLabel")), el("dd", { id: "fault-detail-state", dataset: { state: fault.state } }, t(`fault.state.${fault.state}`)),
        el("dt", {}, t("fault.farm")), el("dd", {}, farmLabel(fault.farm_id, fault.farm_name)),
        el("dt", {}, t("fault.camera")), el("dd", { class: "mono" }, `${fault.channel_id}（${t("fault.device")} ${fault.device_id}）`),
        el("dt", {}, t("fault.since")), el("dd", {}, when(fault.since)),
        el("dt", {}, t("fault.detail")), el("dd", {}, fault.detail || "—"),
        el("dt", {}, t("fault.reminders")), el("dd", {}, `${fault.reminders.sent}${fault.reminders.last ? `（${when(fault.reminders.last)}）` : ""}`),
        el("dt", {}, t("fault.escalated")), el("dd", {}, fault.escalated ? when(fault.escalated_at) : "—")),
      buttons.length ? el("div", { class: "toolbar" }, remark, ...buttons) : null, error,
      el("h3", {}, t("fault.history")),
      el("ol", { id: "fault-history", class: "fault-history" }, ...fault.history.map((step) =>
        el("li", { dataset: { to: step.to } }, `${when(step.at)} · `,
          el("strong", {}, t(`fault.state.${step.to}`)), ` · ${step.by === "auto" ? t("fault.auto") : step.by}`,
          step.remark ? ` · ${step.remark}` : ""))));
    if (caret && remark.isConnected) {
      remark.focus();
      remark.setSelectionRange(...caret);
    }
  }

  async function follow() {
    let since = null;
    while (!stopped) {
      try {
        const query = since === null ? `wait=${WAIT_SECONDS}` : `since_id=${since}&wait=${WAIT_SECONDS}`;
        const answer = await api("GET", `/api/faults/events?${query}`);
        since = answer.next_id;
        if (answer.events.length && !stopped) {
          await refresh();
          if (selected !== null && answer.events.some((event) => event.fault.id === selected)) await show(selected);
        }
      } catch (error) {
        if (error.status === 401 || error.status === 403) return;
        await new Promise((resolve) => setTimeout(resolve, 5000));
      }
    }
  }

  for (const control of [stateFilter, kindFilter, openOnly]) control.addEventListener("change", refresh);
  refresh();
  follow();
  return () => { stopped = true; };
}
