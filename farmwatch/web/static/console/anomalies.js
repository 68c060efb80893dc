// 异常 Anomalies: the list of the farms within reach (overdue rectifications first, flagged),
// and one anomaly's detail: its evidence clips (play, download, SHA-256, verify), the
// rectification order form and the state buttons for administrators, "rectified" for a
// monitor recording the farm's report, the case number, the history and follow-ups.

import { api } from "./api.js";
import { clear, el } from "./dom.js";
import { t } from "./i18n.js";

const STATES = ["open", "rectification_ordered", "rectified", "case_opened", "closed"];

export function mount(container, { me }) {
  const admin = me.role === "administrator";
  let selected = Number(new URLSearchParams(location.hash.split("?")[1] || "").get("id")) || null;
  const stateSelect = el("select", { id: "an-filter", onchange: () => load() },
    el("option", { value: "" }, t("an.all")),
    STATES.map((state) => el("option", { value: state }, t(`an.state.${state}`))));
  const body = el("tbody", { id: "an-rows" });
  const table = el("table", { class: "anomalies", id: "an-table" },
    el("thead", {}, el("tr", {}, ["an.id", "an.farm", "an.camera", "an.time", "an.reporter", "an.state",
      "an.deadline", "an.evidence"].map((key) => el("th", {}, t(key))))), body);
  const detail = el("div", { class: "anomaly-detail", id: "an-detail" }, el("p", { class: "muted" }, t("an.pick")));
  const message = el("p", { class: "state error", id: "an-error" });
  // Verification answers by clip, so that a list refresh re-rendering the detail keeps them.
  const verified = new Map();
  container.append(el("section", { class: "anomalies-page" },
    el("div", { class: "toolbar" }, el("strong", {}, t("an.list")),
      el("label", {}, t("an.filterState"), stateSelect),
      el("button", { type: "button", id: "an-refresh", onclick: () => load() }, "↻")),
    table, message, detail));

  async function load() {
    const query = stateSelect.value ? `?state=${stateSelect.value}` : "";
    try {
      const answer = await api("GET", `/api/anomalies${query}`);
      clear(body);
      for (const anomaly of answer.anomalies) {
        const row = el("tr", { class: `state-${anomaly.state}${anomaly.overdue ? " overdue" : ""}${anomaly.id === selected ? " selected" : ""}`,
          dataset: { anomaly: String(anomaly.id), state: anomaly.state }, onclick: () => show(anomaly.id) },
          el("td", {}, `#${anomaly.id}`),
          el("td", {}, anomaly.farm || String(anomaly.farm_id)),
          el("td", { class: "mono" }, anomaly.channel_id),
          el("td", {}, anomaly.time.replace("T", " ")),
          el("td", {}, anomaly.reporter),
          el("td", {}, t(`an.state.${anomaly.state}`), anomaly.overdue ? el("span", { class: "flag" }, t("an.overdue")) : null),
          el("td", {}, anomaly.rectification ? anomaly.rectification.deadline.replace("T", " ") : ""),
          el("td", { class: `evidence-${anomaly.evidence_state}` }, t(`an.evidence.${anomaly.evidence_state}`)));
        body.append(row);
      }
      if (!answer.anomalies.length) body.append(el("tr", {}, el("td", { colspan: "8", class: "muted" }, t("an.none"))));
      message.textContent = "";
    } catch (error) { message.textContent = error.message; }
    if (selected) await show(selected);
  }

  async function act(path, payload) {
    try {
      await api("POST", path, payload);
      message.textContent = "";
      await load();
    } catch (error) { message.textContent = error.message; }
  }

  function evidenceItem(anomaly, clip) {
    const result = el("span", { class: "verify-result" });
    const showAnswer = (answer) => {
      result.className = `verify-result ${answer.valid ? "ok" : "bad"}`;
      result.dataset.valid = String(answer.valid);
      result.textContent = answer.valid ? t("an.valid") : `${t("an.invalid")} (${answer.detail})`;
    };
    if (verified.has(clip.id)) showAnswer(verified.get(clip.id));
    const verify = clip.verify ? el("button", { type: "button", class: "verify", onclick: async () => {
      try {
        const answer = await api("GET", clip.verify);
        verified.set(clip.id, answer);
        // The detail may have been re-rendered meanwhile: show it wherever the clip is now.
        showAnswer(answer);
        for (const shown of detail.querySelectorAll(`li[data-clip="${clip.id}"] .verify-result`)) {
          if (shown !== result) { shown.className = result.className; shown.dataset.valid = result.dataset.valid; shown.textContent = result.textContent; }
        }
      } catch (error) { result.className = "verify-result bad"; result.textContent = error.message; }
    } }, t("an.verify")) : null;
    const video = clip.file ? el("video", { controls: true, preload: "none", src: clip.file, class: "evidence-video" }) : null;
    return el("li", { dataset: { clip: clip.id, state: clip.state } },
      el("div", {}, el("strong", {}, `${(clip.start || "").replace("T", " ")} – ${(clip.end || "").slice(11)}`),
        el("span", { class: "muted" }, ` ${clip.state} ${clip.source || ""}`),
        clip.error ? el("span", { class: "error" }, ` ${clip.error}`) : null),
      clip.sha256 ? el("div", { class: "mono sha" }, `SHA-256 ${clip.sha256}`) : null,
      video,
      el("div", { class: "toolbar" },
        clip.file ? el("a", { href: clip.file, download: clip.name || `${clip.id}.mp4`, class: "download" }, t("an.download")) : null,
        verify, result));
  }

  async function show(id) {
    selected = id;
    body.querySelectorAll("tr").forEach((row) => row.classList.toggle("selected", row.dataset.anomaly === String(id)));
    let anomaly;
    try { anomaly = await api("GET", `/api/anomalies/${id}`); } catch (error) { message.textContent = error.message; return; }
    const path = `/api/anomalies/${id}`;
    const remark = el("input", { id: "an-remark", placeholder: t("an.remark") });
    const caseNumber = el("input", { id: "an-case-number", placeholder: t("an.caseNumber") });
    const buttons = [];
    const next = {
      open: admin ? ["case_opened", "closed"] : [],
      rectification_ordered: admin ? ["rectified", "case_opened"] : ["rectified"],
      rectified: admin ? ["case_opened", "closed"] : [],
      case_opened: admin ? ["closed"] : [],
      closed: [],
    }[anomaly.state];
    const labels = { rectified: "an.toRectified", case_opened: "an.toCase", closed: "an.toClosed" };
    for (const state of next) {
      buttons.push(el("button", { type: "button", id: `an-to-${state}`, onclick: () => act(`${path}/state`, {
        state, remark: remark.value, case_number: state === "case_opened" ? caseNumber.value : null }) }, t(labels[state])));
    }
    const orderText = el("textarea", { id: "an-order", rows: "3", maxlength: "2048" });
    const tomorrow = new Date(Date.now() + 7 * 86_400_000);
    const deadline = el("input", { type: "datetime-local", id: "an-deadline", step: "60",
      value: `${tomorrow.toISOString().slice(0, 10)}T18:00` });
    const canOrder = admin && ["open", "rectified"].includes(anomaly.state);
    const orderForm = canOrder ? el("form", { class: "card", id: "an-order-form" },
      el("strong", {}, t("an.orderSend")),
      el("label", {}, t("an.order"), orderText), el("label", {}, t("an.deadline"), deadline),
      el("button", { type: "submit", id: "an-order-send" }, t("an.orderSend"))) : null;
    if (orderForm) orderForm.addEventListener("submit", (event) => {
      event.preventDefault();
      act(`${path}/rectification`, { order: orderText.value, deadline: deadline.value.length === 16 ? `${deadline.value}:00` : deadline.value });
    });
    const recordId = el("input", { type: "number", min: "1", id: "an-record-id", placeholder: t("an.recordId") });
    const r = anomaly.rectification;
    // el() leaves out the parts that do not apply (null); DOM append() would print "null".
    clear(detail).append(el("div", {},
      el("h3", {}, `#${anomaly.id} ${anomaly.farm || ""} `, el("span", { class: `badge state-${anomaly.state}`, id: "an-state" }, t(`an.state.${anomaly.state}`)),
        anomaly.overdue ? el("span", { class: "flag" }, t("an.overdue")) : null),
      el("p", {}, anomaly.description),
      el("dl", { class: "facts" },
        el("dt", {}, t("an.camera")), el("dd", { class: "mono" }, anomaly.channel_id),
        el("dt", {}, t("an.time")), el("dd", {}, `${anomaly.time.replace("T", " ")} (${t(`an.mode.${anomaly.mode}`)})`),
        el("dt", {}, t("an.reporter")), el("dd", {}, anomaly.reporter),
        r ? [el("dt", {}, t("an.order")), el("dd", { id: "an-order-text" }, r.order),
          el("dt", {}, t("an.deadline")), el("dd", {}, `${r.deadline.replace("T", " ")} · ${t("an.orderedBy")} ${r.ordered_by}`)] : null,
        anomaly.case_number ? [el("dt", {}, t("an.caseNumber")), el("dd", { id: "an-case" }, anomaly.case_number)] : null),
      el("h4", {}, `${t("an.evidence")} · ${t(`an.evidence.${anomaly.evidence_state}`)}`,
        anomaly.evidence_error ? el("span", { class: "error" }, ` ${anomaly.evidence_error}`) : null),
      el("ul", { class: "evidence", id: "an-evidence" }, anomaly.evidence.map((clip) => evidenceItem(anomaly, clip))),
      orderForm,
      buttons.length ? el("div", { class: "toolbar" }, remark, next.includes("case_opened") ? caseNumber : null, buttons) : null,
      el("h4", {}, t("an.history")),
      el("ol", { class: "history", id: "an-history" }, anomaly.history.map((h) => el("li", {},
        `${h.at.replace("T", " ")} ${h.by}: ${t(`an.state.${h.to}`)}`, h.remark ? el("span", { class: "muted" }, ` — ${h.remark}`) : null))),
      el("h4", {}, t("an.followUps")),
      el("ul", { id: "an-follow-ups" }, anomaly.follow_ups.map((f) => el("li", {}, `#${f.monitoring_record_id} ${f.linked_by}`))),
      anomaly.state !== "closed" ? el("div", { class: "toolbar" }, recordId, el("button", { type: "button",
        onclick: () => act(`${path}/follow-ups`, { monitoring_record_id: Number(recordId.value) }) }, t("an.followUpAdd"))) : null));
  }

  const fresh = () => load();
  window.addEventListener("farmwatch:anomalies", fresh);
  load();
  return () => window.removeEventListener("farmwatch:anomalies", fresh);
}
