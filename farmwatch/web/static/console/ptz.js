// The PTZ pad of the live page: it steers the camera of the selected tile. A button held
// down moves the camera, letting go stops it (pointer capture, so a release outside the
// button still stops it). The platform keeps one controller per camera: a 409 says who
// holds it, a 429 that commands come too fast. "看守位/巡航" asks the camera what it keeps
// ([2022] HomePositionQuery, CruiseTrackListQuery, CruiseTrackQuery) and shows it below the
// pad; a 2016 camera's 501 says the camera does not report it.

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
const MAX_TRACKS_SHOWN = 8;  // each track shown is one more query to the camera

function homeLine(home) {
  if (home.enabled === null && home.preset_index === null) return t("ptz.homeNone");
  if (home.enabled === false) return t("ptz.homeOff");
  return t("ptz.homeOn", { preset: home.preset_index ?? "?", seconds: home.reset_time ?? "?" });
}

function trackLine(track) {
  const presets = track.points.map((point) => point.preset_index).join(" → ") || t("ptz.trackEmpty");
  const first = track.points[0];
  const pace = first ? t("ptz.trackPace", { seconds: first.stay_time ?? "?", speed: first.speed ?? "?" }) : "";
  const label = track.name || t("ptz.track", { number: track.number });
  return t("ptz.line", { label, value: `${presets}${pace}` });
}

/** Why a query failed: a 501 (a 2016 camera, or one that does not report it) in words. */
function failure(error) {
  return error.status === 501 ? t("ptz.notReported") : error.message;
}

/** What the camera keeps, as lines of text; a failed query is why. */
async function keptLines(channelId) {
  const base = `/api/channels/${channelId}`;
  const lines = [];
  try {
    const home = await api("GET", `${base}/home-position`);
    lines.push(t("ptz.line", { label: t("ptz.home"), value: homeLine(home) }));
  } catch (error) {
    lines.push(t("ptz.line", { label: t("ptz.home"), value: failure(error) }));
  }
  try {
    const listed = await api("GET", `${base}/cruise-tracks`);
    if (!listed.tracks.length) lines.push(t("ptz.line", { label: t("ptz.tracks"), value: t("ptz.tracksNone") }));
    for (const entry of listed.tracks.slice(0, MAX_TRACKS_SHOWN)) {
      lines.push(trackLine(await api("GET", `${base}/cruise-tracks/${entry.number}`)));
    }
  } catch (error) {
    lines.push(t("ptz.line", { label: t("ptz.tracks"), value: failure(error) }));
  }
  return lines;
}

/** A pad; `camera()` gives the selected tile's camera ({channel_id}) or null. `kept` is the
 * list of what the camera keeps, placed by the page (a row of its own under the controls). */
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
  const kept = el("ul", { class: "ptz-kept muted", id: "ptz-kept" });
  const keptButton = el("button", { type: "button", id: "ptz-kept-button", onclick: showKept }, t("ptz.kept"));
  async function showKept() {
    const target = camera();
    if (!target) {
      status.textContent = t("ptz.noCamera");
      return;
    }
    keptButton.disabled = true;
    clear(kept).append(el("li", {}, t("ptz.asking")));
    try {
      const lines = await keptLines(target.channel_id);
      clear(kept).append(...lines.map((line) => el("li", {}, line)));
      kept.dataset.channel = target.channel_id;
    } finally {
      keptButton.disabled = false;
    }
  }
  node.append(keptButton, status);
  return { node, kept, clearStatus: () => clear(status) };
}
