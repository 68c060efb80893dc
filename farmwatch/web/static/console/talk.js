// 喊话: the operator speaks through the loudspeaker of the selected tile's camera. The
// microphone (getUserMedia) goes to the platform over WebRTC, which sends it to the camera
// as G.711 (a voice broadcast: the camera is told, then calls the platform for the audio).
// One talk at a time; the stop button, leaving the page or the camera hanging up ends it.

import { api, leave } from "./api.js";
import { el } from "./dom.js";
import { t } from "./i18n.js";
import { iceGathered } from "./player.js";

/** The talk buttons; `camera()` gives the selected tile's camera ({channel_id}) or null. */
export function createTalkButton(camera) {
  const status = el("span", { class: "talk-status muted", id: "talk-status" });
  const start = el("button", { type: "button", id: "talk-start", onclick: () => begin() }, t("talk.start"));
  const stop = el("button", { type: "button", id: "talk-stop", hidden: true, onclick: () => end() }, t("talk.stop"));
  const node = el("div", { class: "talk", id: "talk" }, start, stop, status);
  let current = null;  // {session, peer, stream}

  function show(talking, text) {
    start.hidden = talking;
    stop.hidden = !talking;
    node.classList.toggle("talking", talking);
    status.textContent = text || "";
  }

  async function begin() {
    const target = camera();
    if (!target) { show(false, t("talk.noCamera")); return; }
    if (current) return;
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
    } catch (error) {
      show(false, `${t("talk.noMicrophone")}: ${error.message}`);
      return;
    }
    current = { session: null, peer: null, stream };
    show(true, t("talk.calling"));
    try {
      const session = await api("POST", `/api/channels/${target.channel_id}/broadcast`);
      current.session = session;
      const peer = new RTCPeerConnection();
      current.peer = peer;
      stream.getAudioTracks().forEach((track) => peer.addTrack(track, stream));
      await peer.setLocalDescription(await peer.createOffer());
      await iceGathered(peer);
      const answer = await api("POST", session.webrtc, { sdp: peer.localDescription.sdp, type: "offer" });
      await peer.setRemoteDescription(answer);
      peer.addEventListener("connectionstatechange", () => {
        if (["failed", "closed"].includes(peer.connectionState)) end(t("talk.lost"));
      });
      window.farmwatchTalk = session;  // the browser tests read which broadcast runs
      show(true, `${t("talk.talking")}${target.name || target.channel_id}`);
    } catch (error) {
      release();
      show(false, `${t("talk.failed")}: ${error.message}`);
    }
  }

  function release() {
    if (!current) return;
    const { session, peer, stream } = current;
    current = null;
    window.farmwatchTalk = null;
    if (peer) peer.close();
    stream.getTracks().forEach((track) => track.stop());
    return session;
  }

  async function end(reason) {
    const session = release();
    show(false, reason || t("talk.ended"));
    if (session) {
      try { await api("DELETE", `/api/broadcast/${session.session}`); } catch { /* it had ended */ }
    }
  }

  // The page going away: the broadcast must not outlive it.
  const onLeave = () => { const session = release(); if (session) leave(`/api/broadcast/${session.session}`); };
  window.addEventListener("pagehide", onLeave);
  return { node, dispose: () => { window.removeEventListener("pagehide", onLeave); onLeave(); } };
}
