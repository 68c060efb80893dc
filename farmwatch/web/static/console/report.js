// "Report anomaly" (报告异常) from the live or the playback view: a small dialog for the
// description, sent with the camera and — for a playback — the recorded time on screen.
// The platform opens the anomaly at once and saves its evidence clip by itself.

import { api } from "./api.js";
import { el } from "./dom.js";
import { t } from "./i18n.js";

/** Open the dialog for `camera`; `mode` "live" or "playback", `time` the recorded time. */
export function reportAnomaly({ camera, mode, time = null, onDone = null }) {
  const description = el("textarea", { id: "an-description", rows: "4", maxlength: "2048", required: true });
  const category = el("input", { id: "an-category", maxlength: "64" });
  const message = el("p", { class: "state", id: "an-message" });
  const send = el("button", { type: "submit", id: "an-send" }, t("an.send"));
  const dialog = el("dialog", { class: "report-dialog", id: "an-dialog" });
  const label = `${camera.name || camera.channel_id} (${camera.channel_id})`;
  const form = el("form", { class: "card", method: "dialog" },
    el("strong", {}, t("an.reportTitle", { camera: label })),
    time ? el("span", { class: "muted" }, `${t("an.time")}: ${time.replace("T", " ")}`) : null,
    el("label", {}, t("an.description"), description),
    el("label", {}, t("an.category"), category),
    el("div", { class: "toolbar" }, send,
      el("button", { type: "button", id: "an-cancel", onclick: () => dialog.close() }, t("an.cancel"))),
    message);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    send.disabled = true;
    message.className = "state";
    try {
      const body = { description: description.value, mode, category: category.value || null };
      if (time) body.time = time;
      const anomaly = await api("POST", `/api/channels/${camera.channel_id}/anomalies`, body);
      message.textContent = t("an.reported", { id: anomaly.id });
      message.dataset.anomaly = String(anomaly.id);
      if (onDone) onDone(anomaly);
      setTimeout(() => dialog.close(), 1500);
    } catch (error) {
      message.className = "state error";
      message.textContent = error.message;
      send.disabled = false;
    }
  });
  dialog.append(form);
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  description.focus();
  return dialog;
}
