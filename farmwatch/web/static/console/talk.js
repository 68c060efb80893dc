// 喊话: the operator speaks through the loudspeaker of the selected tile's camera. The
// microphone (getUserMedia) goes to the platform over WebRTC, which sends it to the camera
// as G.711 (a voice broadcast: the camera is told, then calls the platform for the audio).
// 对讲 (two-way talk) is the same both ways: the platform calls the camera (s=Talk) and the
// camera's sound comes back on the same WebRTC connection, played in the page.
// One talk at a time; the stop button, leaving the page or the camera hanging up ends it.

import { api, leave } from "./api.js";
import { el } from "./dom.js";
import { t } from "./i18n.js";
import { iceGathered } from "./player.js";

/** The talk buttons; `camera()` gives the selected tile's camera ({channel_id}) or null. */
export function createTalkButton(camera) {
  const status = el("span", { class: "talk-status muted", id: "talk-status" });
  const start = el("button", { type: "button", id: "talk-start", onclick: () => begin(false) }, t("talk.start"));
  const duplex = el("button", { type: "button", id: "duplex-start", title: t("talk.duplexHint"),
                                onclick: () => begin(true) }, t("talk.duplex"));
  const stop = el("button", { type: "button", id: "talk-stop", hidden: true, onclick: () => end() }, t("talk.stop"));
  // The camera's sound in two-way talk (no controls: it plays while the talk lasts).
  const speaker = el("audio", { id: "talk-audio", autoplay: true });
  const node = el("div", { class: "talk", id: "talk" }, start, duplex, stop, status, speaker);
  let current = null;  // {session, peer, stream, twoWay}

  function show(talking, text, twoWay) {
    start.hidden = talking;
    duplex.hidden = talking;
    stop.hidden = !talking;
    stop.textContent = twoWay ? t("talk.duplexStop") : t("talk.stop");
    node.classList.toggle("talking", talking);
    status.textContent = text || "";
  }

  async function begin(twoWay) {
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
    current = { session: null, peer: null, stream, twoWay };
    show(true, t("talk.calling"), twoWay);
    try {
      const body = twoWay ? { mode: "talk" } : undefined;
      const session = await api("POST", `/api/channels/${target.channel_id}/broadcast`, body);
      current.session = session;
      const peer = new RTCPeerConnection();
      current.peer = peer;
      // sendrecv: in two-way talk the answer sends the camera's sound back on this track.
      stream.getAudioTracks().forEach((track) => peer.addTrack(track, stream));
      if (twoWay) {
        peer.addEventListener("track", (event) => {
          speaker.srcObject = event.streams[0] || new MediaStream([event.track]);
          speaker.play().catch(() => { /* autoplay refused: the talk goes on silently */ });
        });
      }
      await peer.setLocalDescription(await peer.createOffer());
      await iceGathered(peer);
      const answer = await api("POST", session.webrtc, { sdp: peer.localDescription.sdp, type: "offer" });
      await peer.setRemoteDescription(answer);
      peer.addEventListener("connectionstatechange", () => {
        if (["failed", "closed"].includes(peer.connectionState)) end(t("talk.lost"));
      });
      window.farmwatchTalk = session;  // the browser tests read which broadcast runs
      window.farmwatchTalkPeer = peer;  // …and the connection's statistics
      const whom = target.name || target.channel_id;
      show(true, `${twoWay ? t("talk.duplexing") : t("talk.talking")}${whom}`, twoWay);
    } catch (error) {
      release();
      // A camera without two-way talk (501): say what to use instead, then the details.
      const hint = twoWay && error.status === 501 ? `${t("talk.duplexUnsupported")} — ` : "";
      show(false, `${twoWay ? t("talk.duplexFailed") : t("talk.failed")}: ${hint}${error.message}`);
    }
  }

  function release() {
    if (!current) return;
    const { session, peer, stream, twoWay } = current;
    current = null;
    window.farmwatchTalk = null;
    window.farmwatchTalkPeer = null;
    speaker.srcObject = null;
    if (peer) peer.close();
    stream.getTracks().forEach((track) => track.stop());
    return session && { ...session, twoWay };
  }

  async function end(reason) {
    const session = release();
    show(false, reason || (session && session.twoWay ? t("talk.duplexEnded") : t("talk.ended")));
    if (session) {
      try { await api("DELETE", `/api/broadcast/${session.session}`); } catch { /* it had ended */ }
    }
  }

  // The page going away: the broadcast must not outlive it.
  const onLeave = () => { const session = release(); if (session) leave(`/api/broadcast/${session.session}`); };
  window.addEventListener("pagehide", onLeave);
  return { node, dispose: () => { window.removeEventListener("pagehide", onLeave); onLeave(); } };
}
