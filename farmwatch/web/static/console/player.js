// One video tile: opens a live or playback session for a camera, plays it over WebRTC
// (H.264, passed through) or fMP4 through Media Source Extensions (H.265 where the browser
// decodes it), and says at each moment what is happening — calling the camera, waiting for
// video, playing, camera offline, or the error — never a spinner forever. A watermark of
// the viewer's name and the current time lies over the picture (regulation art. 22: a
// screen photographed or recorded names who was watching, and when).

import { ApiError, api, leave } from "./api.js";
import { el, clear, clock } from "./dom.js";
import { t } from "./i18n.js";

// The offer goes out with the candidates gathered so far, 50 ms after the first (host
// candidates come together), never later than 3 s (as the live page does).
export function iceGathered(peer) {
  if (peer.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    let grace = null;
    peer.addEventListener("icegatheringstatechange", () => { if (peer.iceGatheringState === "complete") resolve(); });
    peer.addEventListener("icecandidate", (event) => {
      if (event.candidate === null) resolve();
      else if (grace === null) grace = setTimeout(resolve, 50);
    });
    setTimeout(resolve, 3000);
  });
}

const FIRST_FRAME_TIMEOUT_MS = 10_000;
const H265_TYPES = ['video/mp4; codecs="hvc1.1.6.L93.B0"', 'video/mp4; codecs="hev1.1.6.L93.B0"'];

/** How the watermark names the signed-in person: their name and their username. */
export function viewerName(me) {
  const name = me.display_name || "";
  const username = me.username || "";
  return name && name !== username ? `${name} ${username}` : (username || name);
}

export function canPlayH265() {
  return typeof MediaSource !== "undefined" && H265_TYPES.some((type) => MediaSource.isTypeSupported(type));
}

/** What a tile says of a failed start, in the console's language. The platform's own
 * words (English, for whoever diagnoses it) go in the line's tooltip. An error raised
 * here in the page (no status) is worded for the viewer already. */
export function failureText(error) {
  if (error.status === undefined) return error.message;
  if (error.status === 0) return t("error.network");
  if (error.status === 504) return t("tile.no_answer");
  if (error.status === 502) return t("tile.device_failed");
  return t("tile.failed");
}

// One clock for every watermark on the page.
const watermarks = new Set();
setInterval(() => { const now = clock(); for (const node of watermarks) node.textContent = now; }, 1000);

// A small tile needs no more than the camera's sub-stream (less to decode, less to carry).
// A device without one (a 2016 device: 501) plays its main stream instead.
async function startLive(channelId, small) {
  const path = `/api/channels/${channelId}/live`;
  if (!small) return api("POST", path);
  try {
    return await api("POST", path, { stream: "sub" });
  } catch (error) {
    if (error.status === 501) return api("POST", path);
    throw error;
  }
}

export class Tile {
  /** `viewer` is the signed-in person's name for the watermark; `tools(tile)` more buttons
   * for the tile's bar (the live view's 抓拍), shown while a camera is on it. */
  constructor({ viewer, index = 0, onSelect = null, onClose = null, tools = null }) {
    this.viewer = viewer;
    this.index = index;
    this.camera = null;
    this.session = null;
    this.peer = null;
    this.state = "empty";
    this.generation = 0;
    this.onClose = onClose;
    this.video = el("video", { autoplay: true, playsinline: true, muted: true });
    this.video.muted = true;
    this.title = el("span", { class: "tile-title" });
    this.stateLine = el("div", { class: "tile-state" });
    this.reason = "";
    const time = el("span", { class: "wm-time" }, clock());
    watermarks.add(time);
    this.watermark = el("div", { class: "watermark", "aria-hidden": "true" },
      el("span", { class: "wm-name" }, viewer), time);
    // Repeated across the picture so that no corner is free of it.
    this.watermarkPattern = el("div", { class: "watermark-pattern", "aria-hidden": "true" },
      Array.from({ length: 6 }, () => el("span", {}, viewer)));
    this.closeButton = el("button", { type: "button", class: "tile-close", title: t("tile.close"),
      onclick: (event) => { event.stopPropagation(); this.close(); } }, "×");
    this.node = el("div", { class: "tile", dataset: { index: String(index), state: "empty" },
      onclick: () => onSelect && onSelect(this) },
      this.video, this.watermarkPattern, this.watermark,
      el("div", { class: "tile-bar" }, this.title, tools ? tools(this) : null, this.closeButton), this.stateLine);
    this.show("empty", t("tile.empty"));
  }

  show(state, text, retry = false, detail = "") {
    this.state = state;
    this.reason = detail ? `${text}（${detail}）` : (text || "");
    this.node.dataset.state = state;
    clear(this.stateLine);
    if (text) this.stateLine.append(el("span", detail ? { title: detail } : {}, text));
    if (retry && this.camera) {
      const camera = this.camera;
      const again = this.lastStart;
      this.stateLine.append(el("button", { type: "button", class: "retry",
        onclick: (event) => { event.stopPropagation(); again ? again() : this.play(camera); } }, t("tile.retry")));
    }
  }

  describe(camera) {
    this.title.textContent = camera ? (camera.name || camera.channel_id) : "";
    this.title.title = camera ? camera.channel_id : "";
  }

  /** Live view of `camera` ({channel_id, name, online}); a small tile (`this.small`: 9 or
   * 16 on the screen) asks for the camera's sub-stream. */
  play(camera) {
    this.lastStart = () => this.play(camera);
    const small = this.small;
    return this.open(camera, () => startLive(camera.channel_id, small), true);
  }

  /** Recorded video of `camera` from `start` to `end` (local ISO times). */
  playback(camera, start, end, source) {
    this.lastStart = () => this.playback(camera, start, end, source);
    const body = { start, end };
    if (source && source !== "all") body.source = source;
    return this.open(camera, () => api("POST", `/api/channels/${camera.channel_id}/playback`, body));
  }

  async open(camera, starting, live = false) {
    // Known at once (before the previous stream is stopped): the layout saved right after
    // a click must hold it.
    this.camera = camera;
    this.describe(camera);
    await this.stop();
    const generation = ++this.generation;
    // Live needs the camera; a recording may still play from the platform's own copy.
    if (live && camera.online === false) {
      this.show("offline", t("tile.offline"), true);
      return;
    }
    this.show("calling", t("tile.calling"));
    const stale = () => generation !== this.generation;
    let peer = null;
    try {
      // The platform starts the stream while the browser prepares its offer.
      const opening = starting();
      opening.catch(() => {});
      peer = new RTCPeerConnection();
      this.peer = peer;
      peer.addTransceiver("video", { direction: "recvonly" });
      const received = new MediaStream();
      peer.addEventListener("track", (event) => {
        if (event.track.kind === "video") received.addTrack(event.track);
      });
      peer.addEventListener("connectionstatechange", () => {
        if (!stale() && ["failed", "disconnected"].includes(peer.connectionState) && this.state !== "ended") {
          this.show("error", `WebRTC ${peer.connectionState}`, true);
        }
      });
      await peer.setLocalDescription(await peer.createOffer());
      await iceGathered(peer);
      const session = await opening;
      if (stale()) { this.release(session); peer.close(); return; }
      this.session = session;
      this.show("waiting", t("tile.waiting"));
      if (session.codec === "h265") {
        peer.close();
        this.peer = null;
        await this.playFmp4(session, generation);
      } else {
        this.video.srcObject = received;
        const local = peer.localDescription;
        const answer = await api("POST", session.webrtc, { sdp: local.sdp, type: local.type });
        if (stale()) return;
        await peer.setRemoteDescription(answer);
      }
      await this.firstFrame(generation);
    } catch (error) {
      if (stale()) return;
      if (peer) peer.close();
      this.peer = null;
      if (this.session) { this.release(this.session); this.session = null; }
      if (error.status === 503) this.show("offline", t("tile.offline"), true);
      else if (error.status === 403) this.show("error", t("tile.refused"));
      else this.fail(error);
    }
  }

  fail(error) {
    const text = failureText(error);
    this.show("error", text, true, text === error.message ? "" : error.message);
  }

  async playFmp4(session, generation) {
    if (!canPlayH265()) throw new Error(t("error.h265"));
    const source = new MediaSource();
    this.video.srcObject = null;
    this.video.src = URL.createObjectURL(source);
    await new Promise((resolve) => source.addEventListener("sourceopen", resolve, { once: true }));
    const type = H265_TYPES.find((candidate) => MediaSource.isTypeSupported(candidate));
    const buffer = source.addSourceBuffer(type);
    buffer.mode = "sequence";
    this.abort = new AbortController();
    const response = await fetch(session.fmp4, { signal: this.abort.signal });
    if (!response.ok) throw new ApiError(response.status, `HTTP ${response.status}`);
    const reader = response.body.getReader();
    (async () => {
      while (generation === this.generation) {
        const { value, done } = await reader.read();
        if (done) break;
        if (buffer.updating) await new Promise((resolve) => buffer.addEventListener("updateend", resolve, { once: true }));
        buffer.appendBuffer(value);
        // Keep only the last half-minute buffered, and stay near the live edge.
        if (this.video.buffered.length && this.video.buffered.end(0) - this.video.currentTime > 2) {
          this.video.currentTime = this.video.buffered.end(0) - 0.3;
        }
      }
    })().catch((error) => { if (generation === this.generation) this.fail(error); });
  }

  /** Resolves at the first decoded frame; "waiting for video" turns into an error after 10 s. */
  firstFrame(generation) {
    return new Promise((resolve, reject) => {
      const started = performance.now();
      let done = false;
      const playing = () => {
        if (done || generation !== this.generation) return;
        done = true;
        this.show("playing", "");
        this.firstFrameAt = performance.now();
        resolve();
      };
      // The first frame painted, to the millisecond where the browser tells it.
      if (this.video.requestVideoFrameCallback) this.video.requestVideoFrameCallback(playing);
      const check = async () => {
        if (done) return;
        if (generation !== this.generation) return resolve();
        if (await this.framesDecoded() > 0 || this.video.readyState >= 2 && this.video.videoWidth > 0) {
          return playing();
        }
        if (performance.now() - started > FIRST_FRAME_TIMEOUT_MS) {
          return reject(new Error(`${t("tile.waiting")}: no video after ${FIRST_FRAME_TIMEOUT_MS / 1000} s`));
        }
        setTimeout(check, 40);
      };
      check();
    });
  }

  async framesDecoded() {
    if (!this.peer) return this.video.getVideoPlaybackQuality ? this.video.getVideoPlaybackQuality().totalVideoFrames : 0;
    const stats = await this.peer.getStats();
    for (const report of stats.values()) {
      if (report.type === "inbound-rtp" && report.kind === "video") return report.framesDecoded || 0;
    }
    return 0;
  }

  release(session) {
    leave(session.status || `/api/live/${session.session}`);
  }

  async stop() {
    this.generation++;
    if (this.abort) { this.abort.abort(); this.abort = null; }
    if (this.peer) { this.peer.close(); this.peer = null; }
    if (this.session) { this.release(this.session); this.session = null; }
    this.video.srcObject = null;
    if (this.video.src) { URL.revokeObjectURL(this.video.src); this.video.removeAttribute("src"); this.video.load(); }
  }

  /** Stop and forget the camera (the close button). */
  async close() {
    await this.stop();
    this.camera = null;
    this.describe(null);
    this.show("empty", t("tile.empty"));
    if (this.onClose) this.onClose(this);
  }

  /** Stop for inactivity: the camera is kept, a button plays it again. */
  async suspend() {
    if (!this.camera || this.state === "empty") return;
    await this.stop();
    this.show("closed", t("tile.closed"), true);
  }

  dispose() {
    this.stop();
    for (const node of this.watermark.querySelectorAll(".wm-time")) watermarks.delete(node);
  }
}
