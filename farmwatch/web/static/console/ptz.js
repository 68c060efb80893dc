// The PTZ pad of the live page: it steers the camera of the selected tile. A button held
// down moves the camera, letting go stops it (pointer capture, so a release outside the
// button still stops it). The platform keeps one controller per camera: a 409 says who
// holds it, a 429 that commands come too fast.

import { api } from "./api.js";
import { el, clear } from "./dom.js";
import { t } from "./i18n.js";

const MOVES = [
  { key: "up", label: "▲", body: { tilt: "up" } },
  { key: "left", label: "◀", body: { pan: "left" } },
  { key: "right", label: "▶", body: { pan: "right" } },
  { key: "down", label: "▼", body: { tilt: "down" } },
  { key: "zoom-in", label: "+", body: { zoom: "in" } },
  { key: "zoom-out", label: "−", body: { zoom: "out" } },
];
const SPEED = 128;

/** A pad; `camera()` gives the selected tile's camera ({channel_id}) or null. */
export function createPtzPad(camera) {
  const status = el("span", { class: "ptz-status muted", id: "ptz-status" });
  const node = el("div", { class: "ptz", id: "ptz" }, el("span", {}, t("ptz.title")));

  async function send(body) {
    const target = camera();
    if (!target) {
      status.textContent = t("ptz.noCamera");
      return;
    }
    try {
      await api("POST", `/api/channels/${target.channel_id}/ptz`, body);
      status.textContent = body.action === "stop" ? "" : t("ptz.moving");
    } catch (error) {
      status.textContent = error.status === 409 ? `${t("ptz.held")}: ${error.message}` : error.message;
    }
  }

  for (const move of MOVES) {
    const button = el("button", { type: "button", class: "ptz-button", dataset: { move: move.key }, title: t(`ptz.${move.key}`) }, move.label);
    let held = false;
    const stop = () => {
      if (!held) return;
      held = false;
      send({ action: "stop" });
    };
    button.addEventListener("pointerdown", (event) => {
      event.preventDefault();
      button.setPointerCapture(event.pointerId);
      held = true;
      send({ action: "move", speed: SPEED, ...move.body });
    });
    button.addEventListener("pointerup", stop);
    button.addEventListener("pointercancel", stop);
    button.addEventListener("lostpointercapture", stop);
    node.append(button);
  }
  node.append(status);
  return { node, clearStatus: () => clear(status) };
}
