// The monitoring records page: the supervision schedule's overdue farms first (regulation
// art. 18: supervision at regular intervals), then the records of the farms within reach,
// filtered by farm, result and recorded time, with links to export them as CSV and to
// print them (the same filters).

import { api } from "./api.js";
import { el, clear } from "./dom.js";
import { t } from "./i18n.js";
import { recordCard } from "./monitoring.js";

function day(text) { return (text || "").replace("T", " ").slice(0, 16); }

export function mount(container) {
  const farmSelect = el("select", { id: "mr-farm" }, el("option", { value: "" }, t("mr.allFarms")));
  const resultSelect = el("select", { id: "mr-result" }, el("option", { value: "" }, t("mr.allResults")),
    ["compliant", "not_compliant", "not_visible"].map((value) => el("option", { value }, t(`answer.${value}`))));
  const fromInput = el("input", { type: "date", id: "mr-from" });
  const toInput = el("input", { type: "date", id: "mr-to" });
  const csvLink = el("a", { id: "mr-csv", class: "button" }, t("mr.csv"));
  const printLink = el("a", { id: "mr-print", class: "button", target: "_blank", rel: "noopener" }, t("mr.print"));
  const overdue = el("div", { id: "mr-schedule" });
  const table = el("tbody", { id: "mr-rows" });
  const detail = el("div", { id: "mr-detail" });
  const message = el("p", { class: "state error", id: "mr-message" });
  const farms = new Map();

  container.append(el("section", { class: "records" },
    el("h2", {}, t("mr.schedule")), overdue,
    el("h2", {}, t("nav.records")),
    el("div", { class: "toolbar" },
      el("label", {}, t("mr.farm"), farmSelect), el("label", {}, t("mr.result"), resultSelect),
      el("label", {}, t("mr.from"), fromInput), el("label", {}, t("mr.to"), toInput),
      el("button", { type: "button", id: "mr-search", onclick: () => load() }, t("mr.search")), csvLink, printLink),
    el("table", { class: "list" }, el("thead", {}, el("tr", {},
      ["mr.no", "mr.recordedAt", "mr.farm", "mr.camera", "keyArea", "mr.mode", "mr.result", "mr.signer"].map((key) => el("th", {}, t(key))))),
    table), message, detail));

  function query() {
    const params = new URLSearchParams();
    if (farmSelect.value) params.set("farm", farmSelect.value);
    if (resultSelect.value) params.set("result", resultSelect.value);
    if (fromInput.value) params.set("from", `${fromInput.value}T00:00:00`);
    if (toInput.value) params.set("to", `${toInput.value}T23:59:59`);
    return params.toString();
  }

  async function loadSchedule() {
    const answer = await api("GET", "/api/supervision/schedule");
    clear(overdue);
    for (const farm of answer.farms) farms.set(farm.farm_id, farm);
    clear(farmSelect).append(el("option", { value: "" }, t("mr.allFarms")),
      ...answer.farms.map((farm) => el("option", { value: String(farm.farm_id) }, farm.farm_name)));
    // Opened from a farm's page (#/records?farm=ID): that farm's records.
    const wanted = new URLSearchParams(location.hash.split("?")[1] || "").get("farm");
    if (wanted && farms.has(Number(wanted))) farmSelect.value = wanted;
    const late = answer.farms.filter((farm) => farm.overdue);
    if (!late.length) { overdue.append(el("p", { class: "ok" }, t("mr.noneOverdue"))); return; }
    overdue.append(el("ul", { class: "overdue", id: "mr-overdue" }, late.map((farm) => el("li", { dataset: { farm: String(farm.farm_id) } },
      el("strong", {}, farm.farm_name), ` ${farm.filing_number} · `,
      t("mr.lastRecord", { at: farm.last_record_at ? day(farm.last_record_at) : t("mr.never") }), " · ",
      el("span", { class: "bad" }, t("mr.dueAt", { at: day(farm.due_at), days: farm.days }))))));
  }

  async function load() {
    message.textContent = "";
    clear(detail);
    const params = query();
    csvLink.setAttribute("href", `/api/monitoring-records.csv?${params}`);
    printLink.setAttribute("href", `/monitoring-records/print?${params}`);
    try {
      const answer = await api("GET", `/api/monitoring-records?${params}&limit=200`);
      clear(table);
      if (!answer.records.length) table.append(el("tr", {}, el("td", { colspan: "8", class: "muted" }, t("mr.none"))));
      for (const record of answer.records) {
        const farm = farms.get(record.farm_id);
        table.append(el("tr", { dataset: { record: String(record.id) }, class: "clickable",
          onclick: () => clear(detail).append(recordCard(record)) },
        el("td", {}, String(record.id)), el("td", {}, day(record.recorded_at)),
        el("td", {}, farm ? farm.farm_name : String(record.farm_id)), el("td", { class: "mono" }, record.channel_id),
        el("td", {}, record.key_area_zh), el("td", {}, t(`mode.${record.mode}`)),
        el("td", { class: record.outcome === "compliant" ? "ok" : "bad" }, t(`answer.${record.outcome}`)),
        el("td", {}, record.signed_by.display_name)));
      }
    } catch (error) {
      message.textContent = error.message;
    }
  }

  loadSchedule().catch((error) => { message.textContent = error.message; }).finally(load);
  return null;
}
