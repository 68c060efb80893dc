// The monitoring record form (监控记录; regulation art. 12–18): opened from the live view or
// the playback view for one camera, it shows the checklist of the camera's key area (a
// choice per point: 符合 / 不符合 / 无法看清, and a remark), an overall remark, and after
// submitting, the record as the platform signed it, with the snapshot it took.

import { api } from "./api.js";
import { el, clear } from "./dom.js";
import { currentLanguage, t } from "./i18n.js";

const ANSWERS = ["compliant", "not_compliant", "not_visible"];
let checklists = null;

async function allChecklists() {
  if (!checklists) checklists = (await api("GET", "/api/checklists")).checklists;
  return checklists;
}

async function checklistOf(area) {
  return (await allChecklists()).find((list) => list.key_area === area) || null;
}

function pointText(point) {
  return currentLanguage() === "en" ? point.text_en : point.text_zh;
}

/** The signed record, as shown after submitting (and on the records page). */
export function recordCard(record) {
  const rows = record.answers.map((answer) => el("tr", { dataset: { point: answer.point } },
    el("td", {}, answer.text_zh), el("td", { class: answer.answer === "not_compliant" ? "bad" : undefined },
      t(`answer.${answer.answer}`)), el("td", {}, answer.remark)));
  const signer = record.signed_by;
  return el("div", { class: "record-card", id: `record-${record.id}`, dataset: { record: String(record.id) } },
    el("h3", {}, t("mr.signed", { id: record.id })),
    el("p", {}, `${record.key_area_zh} · ${t(`mode.${record.mode}`)} · ${record.recorded_at.replace("T", " ")} · `,
      el("strong", { class: record.outcome === "compliant" ? "ok" : "bad" }, t(`answer.${record.outcome}`))),
    el("table", { class: "checklist" }, el("tbody", {}, rows)),
    record.remark ? el("p", {}, `${t("mr.remark")}：${record.remark}`) : null,
    el("p", { class: "signature" }, t("mr.signedBy", {
      name: signer.display_name, username: signer.username, at: record.signed_at.replace("T", " "),
    })),
    record.snapshot
      ? el("img", { class: "snapshot", src: record.snapshot.url, alt: t("mr.snapshot") })
      : el("p", { class: "muted" }, t("mr.noSnapshot", { reason: record.snapshot_missing || "" })));
}

/**
 * Open the form for `camera` (from the tree: channel_id, name, key_area). `view` says what
 * is being watched: {mode: "live"} or {mode: "playback", session, position}. `options`
 * lets another page reuse the form (a spot check's result): `pickArea` offers the six key
 * areas when the camera has none here, `submit(request)` sends it (the request then
 * carries `key_area`) and `card(answer)` shows what came back.
 */
export async function openMonitoringForm(camera, view, options = {}) {
  const body = el("div", { class: "modal-body" });
  const closeButton = el("button", { type: "button", class: "modal-close", id: "mr-close", onclick: () => modal.remove() }, t("tile.close"));
  const modal = el("div", { class: "modal", id: "mr-modal", role: "dialog" },
    el("div", { class: "modal-box" },
      el("header", {}, el("strong", {}, `${options.title || t("mr.title")} — ${camera.name || camera.channel_id}`), closeButton),
      body));
  document.body.append(modal);
  if (!camera.key_area && !options.pickArea) {
    body.append(el("p", { class: "error", id: "mr-error" }, t("mr.noArea")));
    return modal;
  }
  if (options.pickArea) {
    let lists;
    try {
      lists = await allChecklists();
    } catch (error) {
      body.append(el("p", { class: "error", id: "mr-error" }, error.message));
      return modal;
    }
    const formHolder = el("div");
    const areaSelect = el("select", { id: "mr-area" }, el("option", { value: "" }, t("sc.pickArea")),
      lists.map((list) => el("option", { value: list.key_area, selected: list.key_area === camera.key_area }, list.key_area_zh)));
    areaSelect.addEventListener("change", () => {
      clear(formHolder);
      if (areaSelect.value) renderForm(formHolder, camera, view, options, areaSelect.value, body);
    });
    body.append(el("label", { class: "overall" }, t("keyArea"), areaSelect), formHolder);
    if (camera.key_area) await renderForm(formHolder, camera, view, options, camera.key_area, body);
    return modal;
  }
  await renderForm(body, camera, view, options, camera.key_area, body);
  return modal;
}

async function renderForm(holder, camera, view, options, area, body) {
  let checklist;
  try {
    checklist = await checklistOf(area);
  } catch (error) {
    holder.append(el("p", { class: "error", id: "mr-error" }, error.message));
    return;
  }
  const points = checklist.points.map((point) => {
    const name = `mr-${point.id}`;
    const choices = ANSWERS.map((answer) => el("label", { class: "choice" },
      el("input", { type: "radio", name, value: answer, dataset: { point: point.id } }), t(`answer.${answer}`)));
    const remark = el("input", { type: "text", class: "remark", maxlength: "1000", placeholder: t("mr.pointRemark"), dataset: { remark: point.id } });
    return { point, node: el("fieldset", { class: "point", dataset: { point: point.id } },
      el("legend", {}, pointText(point)), el("div", { class: "choices" }, choices), remark), remark };
  });
  const remark = el("textarea", { id: "mr-remark", maxlength: "1000", rows: "2" });
  const message = el("p", { class: "error", id: "mr-error" });
  const submit = el("button", { type: "submit", id: "mr-submit", class: "primary" }, t("mr.submit"));
  const form = el("form", { id: "mr-form" },
    el("p", { class: "muted" }, `${checklist.key_area_zh}（${t("mr.article", { n: checklist.article })}）· ${t(`mode.${view.mode}`)}` +
      (view.position ? ` · ${view.position.replace("T", " ")}` : "")),
    points.map((entry) => entry.node),
    el("label", { class: "overall" }, t("mr.remark"), remark), message, submit);
  holder.append(form);
  form.addEventListener("change", () => { message.textContent = ""; });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const answers = {};
    const missing = [];
    for (const { point, node, remark: pointRemark } of points) {
      const chosen = node.querySelector("input[type=radio]:checked");
      if (!chosen) { missing.push(pointText(point)); continue; }
      answers[point.id] = { answer: chosen.value, remark: pointRemark.value };
    }
    if (missing.length) { message.textContent = t("mr.missing", { points: missing.join("；") }); return; }
    const request = { mode: view.mode, answers, remark: remark.value };
    if (view.mode === "playback") {
      request.recorded_at = view.position;
      if (view.session) request.playback_session = view.session;
    }
    submit.disabled = true;
    message.textContent = t("mr.saving");
    try {
      if (options.submit) {
        const answer = await options.submit({ ...request, key_area: area });
        clear(body).append(options.card ? options.card(answer) : el("p", { class: "ok" }, t("sc.saved")));
        return;
      }
      const record = await api("POST", `/api/channels/${camera.channel_id}/monitoring-records`, request);
      clear(body).append(recordCard(record));
    } catch (error) {
      message.textContent = error.message;
      submit.disabled = false;
    }
  });
}
