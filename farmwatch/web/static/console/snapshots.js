// 设备抓拍 under the live view: pictures the camera takes itself and uploads (GB/T 28181-2022
// SnapShotConfig). The panel follows the camera last picked or selected on the grid: it asks
// that camera for N pictures some seconds apart (POST …/device-snapshots; the 202 means the
// camera took the order, not that pictures came), watches them arrive in the channel's list,
// and shows the channel's stored pictures: thumbnail, time received, size and SHA-256, a
// 校验 that hashes the bytes the browser received against the hash the platform recorded,
// and the picture full size. Each picture is fetched once per page (every fetch of a
// picture is audited as a view) and shown from that copy.

import { api } from "./api.js";
import { clear, clock, el } from "./dom.js";
import { t } from "./i18n.js";
import { sha256Hex } from "./sha256.js";

const SHOWN = 48;
const POLL_MS = 1000;
// How long after the last picture was due the panel still waits for it (uploads are slow
// on a farm's uplink; the platform itself keeps the address open 2 minutes longer).
const GRACE_MS = 30_000;

export function formatSize(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(2)} MB`;
}

/** The panel; `show(camera)` makes it that camera's, `take(camera)` asks for pictures. */
export function createSnapshotPanel() {
  const title = el("span", { id: "snap-camera", class: "muted" }, t("snap.noCamera"));
  const count = el("select", { id: "snap-count" },
    Array.from({ length: 10 }, (_, i) => el("option", { value: String(i + 1) }, String(i + 1))));
  const interval = el("input", { id: "snap-interval", type: "number", min: "1", max: "60", value: "1", class: "narrow" });
  const takeButton = el("button", { type: "button", id: "snap-take", class: "primary", onclick: () => take(camera) }, t("snap.take"));
  const status = el("span", { id: "snap-status", class: "muted", role: "status" });
  const gallery = el("ul", { id: "snap-gallery", class: "snap-gallery" });
  const node = el("section", { class: "snapshots card", id: "snapshots" },
    el("div", { class: "toolbar" }, el("strong", {}, t("snap.title")), title,
      el("label", {}, t("snap.count"), count), el("label", {}, t("snap.interval"), interval),
      takeButton, el("button", { type: "button", id: "snap-refresh", title: t("snap.refresh"), onclick: () => load() }, "↻"),
      status),
    gallery);
  let camera = null;
  let run = null;        // the request being watched: {sessionId, count, until, channelId}
  let timer = null;
  let shownIds = null;  // the ids in the gallery (null: nothing drawn yet)
  const pictures = new Map();  // snapshot id → Promise<{url, bytes}> (fetched once)
  const verdicts = new Map();  // snapshot id → {valid, computed}

  function say(text, isError = false) {
    status.textContent = text;
    status.className = isError ? "error" : "muted";
  }

  function show(next) {
    if (!next || (camera && next.channel_id === camera.channel_id)) return;
    camera = next;
    title.textContent = `${camera.name || camera.channel_id} (${camera.channel_id})`;
    title.className = "";
    if (!run || run.channelId !== camera.channel_id) say("");
    shownIds = null;
    load();
  }

  function picture(snapshot) {
    if (!pictures.has(snapshot.id)) {
      const fetching = fetch(snapshot.url).then(async (response) => {
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        const bytes = await response.arrayBuffer();
        return { bytes, url: URL.createObjectURL(new Blob([bytes], { type: "image/jpeg" })) };
      });
      fetching.catch(() => pictures.delete(snapshot.id));  // tried again at the next showing
      pictures.set(snapshot.id, fetching);
    }
    return pictures.get(snapshot.id);
  }

  async function verify(snapshot, result) {
    result.className = "verify-result muted";
    result.textContent = "…";
    try {
      const { bytes } = await picture(snapshot);
      const computed = await sha256Hex(bytes);
      verdicts.set(snapshot.id, { valid: computed === snapshot.sha256 && bytes.byteLength === snapshot.size, computed });
    } catch (error) {
      verdicts.set(snapshot.id, { valid: false, computed: null, error: error.message });
    }
    showVerdict(snapshot, result);
  }

  function showVerdict(snapshot, result) {
    const verdict = verdicts.get(snapshot.id);
    if (!verdict) return;
    result.className = `verify-result ${verdict.valid ? "ok" : "bad"}`;
    result.dataset.valid = String(verdict.valid);
    result.dataset.computed = verdict.computed || "";
    result.textContent = verdict.valid ? t("snap.valid") : `${t("snap.invalid")}${verdict.error ? ` (${verdict.error})` : ""}`;
  }

  function item(snapshot) {
    const image = el("img", { class: "snap-thumb", alt: snapshot.time, width: "160", height: "90" });
    picture(snapshot).then(({ url }) => { image.src = url; }, (error) => { image.alt = error.message; });
    const result = el("span", { class: "verify-result" });
    showVerdict(snapshot, result);
    const time = clock(new Date(snapshot.time));
    return el("li", { dataset: { snapshot: String(snapshot.id), session: snapshot.session_id, sha256: snapshot.sha256, size: String(snapshot.size) } },
      el("button", { type: "button", class: "snap-open", title: t("snap.open"), onclick: () => openFull(snapshot) }, image),
      el("div", { class: "snap-time" }, time),
      el("div", { class: "muted snap-size" }, formatSize(snapshot.size)),
      el("div", { class: "mono sha", title: snapshot.sha256 }, `SHA-256 ${snapshot.sha256.slice(0, 16)}…`),
      el("div", {}, el("button", { type: "button", class: "snap-verify", onclick: () => verify(snapshot, result) }, t("snap.verify")), " ", result));
  }

  function openFull(snapshot) {
    const image = el("img", { id: "snap-full", class: "snap-full", alt: snapshot.time });
    picture(snapshot).then(({ url }) => { image.src = url; }, (error) => { image.alt = error.message; });
    const dialog = el("dialog", { class: "report-dialog snap-dialog", id: "snap-dialog" },
      el("div", { class: "toolbar" }, el("strong", {}, `${title.textContent} · ${clock(new Date(snapshot.time))}`),
        el("span", { class: "muted" }, formatSize(snapshot.size)),
        el("a", { href: snapshot.url, download: `${snapshot.channel_id}-${snapshot.id}.jpg` }, t("an.download")),
        el("button", { type: "button", id: "snap-close", onclick: () => dialog.close() }, t("tile.close"))),
      image,
      el("div", { class: "mono sha" }, `SHA-256 ${snapshot.sha256}`));
    dialog.addEventListener("close", () => dialog.remove());
    document.body.append(dialog);
    dialog.showModal();
  }

  async function load() {
    if (!camera) return null;
    const channelId = camera.channel_id;
    let answer;
    try {
      answer = await api("GET", `/api/channels/${channelId}/device-snapshots?limit=${SHOWN}`);
    } catch (error) {
      if (camera && camera.channel_id === channelId) say(error.message, true);
      return null;
    }
    if (!camera || camera.channel_id !== channelId) return null;
    const ids = answer.snapshots.map((snapshot) => snapshot.id).join(",");
    if (ids !== shownIds) {  // unchanged: leave the gallery (and any open verdicts) as it is
      shownIds = ids;
      clear(gallery).append(...answer.snapshots.map(item));
      if (!answer.snapshots.length) gallery.append(el("li", { class: "muted empty" }, t("snap.none")));
    }
    return answer.snapshots;
  }

  async function take(target) {
    if (!target) { say(t("snap.noCamera"), true); return; }
    show(target);
    const wanted = { count: Number(count.value), interval: Number(interval.value) };
    takeButton.disabled = true;
    say(t("snap.asking"));
    try {
      const session = await api("POST", `/api/channels/${target.channel_id}/device-snapshots`, wanted);
      run = { sessionId: session.session_id, count: session.count, channelId: session.channel_id,
        until: Date.now() + session.count * session.interval * 1000 + GRACE_MS };
      node.dataset.session = session.session_id;
      say(t("snap.received", { got: 0, count: run.count }));
      watch();
    } catch (error) {
      say(error.status === 501 ? t("snap.unsupported") : error.message, true);
    } finally {
      takeButton.disabled = false;
    }
  }

  // Until every picture asked for has come, or the time for them is past.
  async function watch() {
    clearTimeout(timer);
    if (!run) return;
    const mine = camera && camera.channel_id === run.channelId;
    const snapshots = mine ? await load() : null;
    if (!run) return;
    if (!mine && Date.now() > run.until) { run = null; return; }  // another camera is shown meanwhile
    if (snapshots) {
      const got = snapshots.filter((snapshot) => snapshot.session_id === run.sessionId).length;
      node.dataset.received = String(got);
      if (got >= run.count) { say(t("snap.done", { got, count: run.count })); run = null; return; }
      if (Date.now() > run.until) { say(t("snap.missing", { got, count: run.count }), true); run = null; return; }
      say(t("snap.received", { got, count: run.count }));
    }
    timer = setTimeout(watch, POLL_MS);
  }

  function dispose() {
    clearTimeout(timer);
    run = null;
    for (const fetching of pictures.values()) fetching.then(({ url }) => URL.revokeObjectURL(url), () => {});
    pictures.clear();
  }

  return { node, show, take, dispose };
}
