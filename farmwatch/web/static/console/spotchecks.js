// The random spot check page (随机抽查; regulation art. 4): draw K cameras among those the
// signed-in person may view, farms not checked recently first; play each drawn camera in
// the tile (through the cascade when it is a lower platform's) and record what was seen on
// its key area's checklist (the monitoring form), or that it will not play; the seed and a
// button that runs the draw again; the report of a period, per farm.

import { api } from "./api.js";
import { el, clear } from "./dom.js";
import { t } from "./i18n.js";
import { openMonitoringForm } from "./monitoring.js";
import { Tile, viewerName } from "./player.js";

function day(text) { return (text || "").replace("T", " ").slice(0, 16); }

export function mount(container, { me }) {
  const countInput = el("input", { type: "number", id: "sc-count", min: "1", max: "100", value: "5" });
  const periodInput = el("input", { type: "text", id: "sc-period", maxlength: "64", placeholder: "2026-12" });
  const message = el("p", { class: "state error", id: "sc-message" });
  const history = el("ul", { class: "sc-history", id: "sc-list" });
  const head = el("div", { id: "sc-head" });
  const rows = el("tbody", { id: "sc-rows" });
  const reason = el("input", { type: "text", id: "sc-reason", maxlength: "1000", value: t("sc.defaultReason") });
  const tile = new Tile({ viewer: viewerName(me) });
  window.farmwatchTiles = [tile];  // the browser tests read getStats() and framesDecoded() here
  const fromInput = el("input", { type: "date", id: "sc-from" });
  const toInput = el("input", { type: "date", id: "sc-to" });
  const report = el("div", { id: "sc-report" });
  let current = null;

  container.append(el("section", { class: "spotchecks" },
    el("div", { class: "toolbar" },
      el("label", {}, t("sc.count"), countInput), el("label", {}, t("sc.period"), periodInput),
      el("button", { type: "button", id: "sc-draw", class: "primary", onclick: () => draw() }, t("sc.draw")),
      el("span", { class: "muted" }, t("sc.hint"))),
    message,
    el("div", { class: "sc-main" },
      el("div", { class: "sc-left" }, el("h2", {}, t("sc.history")), history),
      el("div", { class: "sc-center" }, head,
        el("table", { class: "list" }, el("thead", {}, el("tr", {},
          ["sc.no", "mr.farm", "mr.camera", "keyArea", "sc.state", "mr.result", "sc.actions"].map((key) => el("th", {}, t(key))))),
        rows),
        el("label", { class: "overall" }, t("sc.reason"), reason)),
      el("div", { class: "sc-player" }, el("div", { class: "grid grid-1" }, tile.node))),
    el("h2", {}, t("sc.report")),
    el("div", { class: "toolbar" },
      el("label", {}, t("mr.from"), fromInput), el("label", {}, t("mr.to"), toInput),
      el("button", { type: "button", id: "sc-report-load", onclick: () => loadReport() }, t("mr.search"))),
    report));

  function camera(item) {
    return { channel_id: item.channel_id, name: `${item.farm_name} · ${item.channel_id}`, key_area: item.key_area };
  }

  async function result(item, request) {
    return api("POST", `/api/spot-checks/${current.id}/items/${item.position}/result`, request);
  }

  function record(item) {
    openMonitoringForm(camera(item), { mode: "live" }, {
      title: t("sc.formTitle", { position: item.position }),
      pickArea: true,
      submit: async (request) => {
        const answer = await result(item, { state: "recorded", ...request });
        await show(current.id);
        return answer;
      },
      card: (answer) => el("p", { class: answer.outcome === "compliant" ? "ok" : "bad", id: "sc-recorded" },
        t("sc.recorded", { position: answer.position, outcome: t(`answer.${answer.outcome}`) })),
    });
  }

  // What the tile said when the drawn camera failed to play, as the reason's default.
  function failure(item) {
    const failed = ["error", "offline"].includes(tile.state);
    if (!failed || !tile.camera || tile.camera.channel_id !== item.channel_id) return "";
    return `${t("sc.defaultReason")}：${tile.reason}`;
  }

  async function unplayable(item) {
    message.textContent = "";
    const why = reason.value.trim() && reason.value.trim() !== t("sc.defaultReason")
      ? reason.value.trim() : (failure(item) || t("sc.defaultReason"));
    try {
      await result(item, { state: "unplayable", mode: "live", remark: why });
      await show(current.id);
    } catch (error) {
      message.textContent = error.message;
    }
  }

  function renderCheck(check) {
    current = check;
    clear(head).append(
      el("h2", {}, t("sc.title", { id: check.id }), check.period ? ` · ${check.period}` : ""),
      el("p", { class: "muted" }, t("sc.drawnBy", { name: check.drawn_by, at: day(check.drawn_at), n: check.items.length, k: check.requested })),
      el("p", {}, t("sc.seed"), el("code", { id: "sc-seed" }, check.seed), " · ", t("sc.digest"),
        el("code", { title: check.population_digest }, check.population_digest.slice(0, 16)), " ",
        el("button", { type: "button", id: "sc-verify", onclick: () => verify(check.id) }, t("sc.verify")),
        el("span", { id: "sc-verified" })));
    clear(rows);
    for (const item of check.items) {
      const done = item.state === "recorded";
      rows.append(el("tr", { dataset: { position: String(item.position), state: item.state } },
        el("td", {}, String(item.position)), el("td", {}, item.farm_name),
        el("td", { class: "mono" }, item.channel_id), el("td", {}, item.key_area_zh || "—"),
        el("td", { class: item.state === "unplayable" ? "bad" : undefined, title: item.remark || undefined }, item.state_zh),
        el("td", { class: item.outcome === "compliant" ? "ok" : (item.outcome ? "bad" : undefined) },
          item.outcome ? t(`answer.${item.outcome}`) : (item.state === "unplayable" ? el("small", { class: "muted" }, item.remark) : "")),
        el("td", {},
          el("button", { type: "button", class: "sc-play", onclick: () => tile.play(camera(item)) }, t("sc.play")), " ",
          el("button", { type: "button", class: "sc-record primary", disabled: done, onclick: () => record(item) }, t("sc.record")), " ",
          el("button", { type: "button", class: "sc-unplayable", disabled: item.state !== "pending", onclick: () => unplayable(item) }, t("sc.unplayable")))));
    }
    for (const node of history.querySelectorAll("li")) node.classList.toggle("current", node.dataset.check === String(check.id));
  }

  async function show(id) {
    renderCheck(await api("GET", `/api/spot-checks/${id}`));
    loadReport();  // the report follows every result recorded
  }

  async function verify(id) {
    const out = head.querySelector("#sc-verified");
    out.textContent = "";
    try {
      const answer = await api("GET", `/api/spot-checks/${id}/verify`);
      out.className = answer.ok ? "ok" : "bad";
      out.textContent = answer.ok ? t("sc.verifiedOk", { n: answer.population }) : t("sc.verifiedBad");
    } catch (error) {
      out.className = "bad";
      out.textContent = error.message;
    }
  }

  async function loadHistory() {
    const answer = await api("GET", "/api/spot-checks?limit=50");
    clear(history);
    if (!answer.spot_checks.length) history.append(el("li", { class: "muted" }, t("sc.none")));
    for (const check of answer.spot_checks) {
      history.append(el("li", { class: "clickable", dataset: { check: String(check.id) }, onclick: () => show(check.id) },
        `#${check.id} ${day(check.drawn_at)} · ${check.items.length}`));
    }
    return answer.spot_checks;
  }

  async function draw() {
    message.textContent = "";
    const body = { count: Number(countInput.value) };
    if (periodInput.value.trim()) body.period = periodInput.value.trim();
    try {
      const check = await api("POST", "/api/spot-checks", body);
      await loadHistory();
      renderCheck(check);
    } catch (error) {
      message.textContent = error.message;
    }
  }

  async function loadReport() {
    const params = new URLSearchParams();
    if (fromInput.value) params.set("from", `${fromInput.value}T00:00:00`);
    if (toInput.value) params.set("to", `${toInput.value}T23:59:59`);
    try {
      const answer = await api("GET", `/api/spot-checks/report?${params}`);
      const columns = ["drawn", "recorded", "unplayable", "pending", "not_compliant", "not_compliant_points"];
      clear(report).append(
        el("p", {}, t("sc.reportTotal", { checks: answer.checks, drawn: answer.drawn, recorded: answer.recorded,
          unplayable: answer.unplayable, points: answer.not_compliant_points })),
        el("table", { class: "list", id: "sc-report-table" },
          el("thead", {}, el("tr", {}, el("th", {}, t("mr.farm")), columns.map((key) => el("th", {}, t(`sc.col.${key}`))))),
          el("tbody", {}, answer.farms.map((farm) => el("tr", { dataset: { farm: farm.farm_key } },
            el("td", {}, farm.farm_name), columns.map((key) => el("td", {}, String(farm[key]))))))));
    } catch (error) {
      clear(report).append(el("p", { class: "error" }, error.message));
    }
  }

  loadHistory().then((checks) => { if (checks.length) return show(checks[0].id); })
    .catch((error) => { message.textContent = error.message; });
  loadReport();
  const closeOnLeave = () => tile.stop();
  window.addEventListener("pagehide", closeOnLeave);
  return () => {
    window.removeEventListener("pagehide", closeOnLeave);
    tile.dispose();
    window.farmwatchTiles = [];
  };
}
