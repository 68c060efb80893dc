// The supervision overview (总览; issue 11 item 7): per organisation within reach, a row of
// figure cards (its own and those below it) and its farms needing attention (overdue in
// the schedule, or flagged by an open fault ticket or anomaly), each figure linking to the
// page that lists what it counts.

import { api } from "./api.js";
import { el, clear, localIso } from "./dom.js";
import { t } from "./i18n.js";

function day(text) { return (text || "").replace("T", " ").slice(0, 16); }

function dateValue(text) { return (text || "").slice(0, 10); }

// Each card: its words, its value, the page it links to (a hash route), warning when > 0.
function cards(figures) {
  const approved = figures.farms_by_state.approved || 0;
  return [
    ["ov.cameras", `${figures.cameras_online} / ${figures.cameras}`, "#/live", false],
    ["ov.farms", `${approved} / ${figures.farms}`, "#/farms", false],
    ["ov.supervised", `${figures.farms_supervised} / ${figures.farms}`, "#/records", false],
    ["ov.due", figures.farms_due, "#/farms", false],
    ["ov.overdue", figures.farms_overdue, "#/farms", true],
    ["ov.faults", figures.faults_open, "#/faults", true],
    ["ov.flagged", figures.farms_flagged, "#/farms", true],
    ["ov.anomalies", figures.anomalies_open, "#/anomalies", true],
    ["ov.rectOverdue", figures.rectifications_overdue, "#/anomalies", true],
    ["ov.cases", figures.cases_opened, "#/anomalies", false],
    ["ov.spotChecks", `${figures.spot_checks} / ${figures.spot_check_cameras}`, "#/spotchecks", false],
    ["ov.spotResults",
      `${figures.spot_check_recorded} / ${figures.spot_check_unplayable} / ${figures.spot_check_non_compliant}`,
      "#/spotchecks", figures.spot_check_unplayable + figures.spot_check_non_compliant > 0],
    ["ov.pictures", figures.pictures_failing, "#/faults", true],
  ];
}

function figureCards(figures) {
  return el("div", { class: "ov-cards" }, cards(figures).map(([key, value, href, warn]) =>
    el("a", {
      class: `ov-card${warn && Number(String(value).split(" ")[0]) > 0 ? " warn" : ""}`,
      href, dataset: { figure: key },
    }, el("span", { class: "ov-value" }, String(value)), el("span", { class: "ov-label" }, t(key)))));
}

function attentionTable(entries) {
  if (!entries.length) return el("p", { class: "muted" }, t("ov.noAttention"));
  return el("table", { class: "list ov-attention" },
    el("thead", {}, el("tr", {}, ["mr.farm", "ov.farmState", "ov.lastRecord", "ov.dueAt", "ov.faults", "ov.anomalies"]
      .map((key) => el("th", {}, t(key))))),
    el("tbody", {}, entries.map((farm) => el("tr", { class: farm.overdue ? "overdue" : undefined, dataset: { farm: farm.farm_id } },
      el("td", {}, el("a", { href: `#/farms?id=${farm.farm_id}` }, farm.name)),
      el("td", {}, t(`farmState.${farm.state}`)),
      el("td", {}, farm.last_record_at ? el("a", { href: "#/records" }, day(farm.last_record_at)) : t("ov.never")),
      el("td", { class: farm.overdue ? "bad" : undefined }, day(farm.due_at), farm.overdue ? el("span", { class: "flag" }, t("ov.overdueFlag")) : null),
      el("td", {}, farm.open_faults ? el("a", { href: "#/faults" }, String(farm.open_faults)) : "0"),
      el("td", {}, farm.open_anomalies ? el("a", { href: "#/anomalies" }, String(farm.open_anomalies)) : "0")))));
}

function organisationSection(node, depth) {
  const own = node.children.length ? el("span", { class: "muted" }, t("ov.withBelow")) : null;
  return [
    el("section", { class: `ov-org depth-${Math.min(depth, 2)}`, dataset: { organisation: node.id } },
      el("h2", {}, node.name, " ", el("span", { class: "badge" }, t(`tier.${node.tier}`)), " ", own),
      figureCards(node.figures),
      attentionTable(node.attention)),
    ...node.children.flatMap((child) => organisationSection(child, depth + 1)),
  ];
}

export function mount(container) {
  const fromInput = el("input", { type: "date", id: "ov-from" });
  const toInput = el("input", { type: "date", id: "ov-to" });
  const period = el("span", { class: "muted", id: "ov-period" });
  const body = el("div", { id: "ov-body" }, el("p", { class: "state" }, t("loading")));
  container.append(el("section", { class: "overview" },
    el("div", { class: "toolbar" },
      el("label", {}, t("mr.from"), fromInput), el("label", {}, t("mr.to"), toInput),
      el("button", { type: "button", id: "ov-load", class: "primary", onclick: () => load() }, t("mr.search")),
      period),
    body));

  async function load() {
    const query = new URLSearchParams();
    if (fromInput.value) query.set("from", `${fromInput.value}T00:00:00`);
    if (toInput.value) {
      const end = new Date(`${toInput.value}T00:00:00`);
      end.setDate(end.getDate() + 1);  // the day picked is included
      query.set("to", localIso(end));
    }
    try {
      const answer = await api("GET", `/api/overview${query.toString() ? `?${query}` : ""}`);
      period.textContent = t("ov.period", { from: day(answer.from), to: day(answer.to) });
      if (!fromInput.value) fromInput.value = dateValue(answer.from);
      clear(body).append(...(answer.organisations.length
        ? answer.organisations.flatMap((node) => organisationSection(node, 0))
        : [el("p", { class: "muted" }, t("ov.nothing"))]));
    } catch (error) {
      clear(body).append(el("p", { class: "state error", id: "ov-error" }, error.message));
    }
  }

  load();
}
