// Playback of one camera's recordings: a day's timeline filled progressively as the record
// search answers slice by slice (an "incomplete" slice is said so), a click or a drag on
// it plays from that time (a seek within the open session), pause, speed, and downloads
// with their progress (pending / downloading / completed / failed, never 0 % forever).

import { api } from "./api.js";
import { el, clear, localIso } from "./dom.js";
import { t } from "./i18n.js";
import { openMonitoringForm } from "./monitoring.js";
import { Tile, viewerName } from "./player.js";
import { reportAnomaly } from "./report.js";
import { createTreeView } from "./tree.js";

const DAY_SECONDS = 86_400;
const SPEEDS = [0.25, 0.5, 1, 2, 4, 8];

function dayOf(text) { return text.slice(0, 10); }
function secondsOfDay(text) {
  const [h, m, s] = text.slice(11, 19).split(":").map(Number);
  return h * 3600 + m * 60 + (s || 0);
}
function atSeconds(day, seconds) {
  const clamped = Math.max(0, Math.min(DAY_SECONDS - 1, Math.round(seconds)));
  const pad = (n) => String(n).padStart(2, "0");
  return `${day}T${pad(Math.floor(clamped / 3600))}:${pad(Math.floor(clamped / 60) % 60)}:${pad(clamped % 60)}`;
}
function dayEnd(day) { return `${day}T23:59:59`; }

export function mount(container, { me }) {
  const viewer = viewerName(me);
  let camera = null;
  let records = [];
  let searchTimer = null;
  let positionTimer = null;
  let searchGeneration = 0;
  const downloads = new Map();

  const tree = createTreeView({ onPick: (picked) => pick(picked) });
  const today = localIso(new Date()).slice(0, 10);
  const dateInput = el("input", { type: "date", id: "pb-date", value: today, max: today });
  const sourceSelect = el("select", { id: "pb-source" },
    ["all", "device", "platform"].map((value) => el("option", { value }, t(`source.${value}`))));
  const cameraLabel = el("strong", { id: "pb-camera" }, t("pb.pick"));
  const searchState = el("span", { id: "pb-search-state", class: "muted" });
  const segments = el("div", { class: "segments", id: "pb-segments" });
  const cursor = el("div", { class: "cursor", id: "pb-cursor", hidden: true });
  const hover = el("div", { class: "hover-time", hidden: true });
  const ticks = el("div", { class: "ticks" },
    Array.from({ length: 24 }, (_, hour) => el("span", { dataset: { hour: String(hour) } }, hour % 3 ? "" : `${hour}:00`)));
  const timeline = el("div", { class: "timeline", id: "pb-timeline" }, segments, cursor, hover);
  const tile = new Tile({ viewer, index: 0 });
  window.farmwatchTiles = [tile];
  const pauseButton = el("button", { type: "button", id: "pb-pause", onclick: () => control({ action: "pause" }) }, t("pb.pause"));
  const resumeButton = el("button", { type: "button", id: "pb-resume", onclick: () => control({ action: "resume" }) }, t("pb.resume"));
  const speedSelect = el("select", { id: "pb-speed", onchange: () => control({ action: "speed", scale: Number(speedSelect.value) }) },
    SPEEDS.map((speed) => el("option", { value: String(speed), selected: speed === 1 }, `${speed}×`)));
  const position = el("span", { id: "pb-position", class: "position" });
  const fromInput = el("input", { type: "time", id: "dl-from", step: "1", value: "08:00:00" });
  const toInput = el("input", { type: "time", id: "dl-to", step: "1", value: "08:10:00" });
  const downloadList = el("ul", { class: "downloads", id: "dl-list" });
  const message = el("p", { class: "state error", id: "pb-message" });

  // Ticks are laid out by CSS from data-hour (no inline styles: the CSP forbids them).
  container.append(tree.node, el("section", { class: "playback" },
    el("div", { class: "toolbar" }, el("span", {}, t("pb.camera")), cameraLabel,
      el("label", {}, t("pb.date"), dateInput), el("label", {}, t("pb.source"), sourceSelect), searchState),
    el("div", { class: "timeline-box" }, ticks, timeline),
    el("div", { class: "player" }, tile.node),
    el("div", { class: "toolbar" }, pauseButton, resumeButton, el("label", {}, t("pb.speed"), speedSelect),
      el("span", {}, t("pb.position")), position,
      el("button", { type: "button", id: "pb-record", class: "primary", onclick: () => record() }, t("mr.button")),
      el("button", { type: "button", id: "an-report-pb", class: "report", onclick: () => report() }, t("an.report"))),
    el("div", { class: "toolbar" }, el("span", {}, t("pb.downloadFrom")), fromInput, el("span", {}, t("pb.to")), toInput,
      el("button", { type: "button", id: "dl-start", onclick: () => download() }, t("pb.download"))),
    downloadList, message));

  function say(text) { message.textContent = text || ""; }

  // A monitoring record of what is being played back: the position shown, the session's picture.
  function record() {
    const session = tile.session;
    if (!camera || !session) { say(t("pb.pick")); return; }
    const at = position.dataset.position || session.start;
    openMonitoringForm(camera, { mode: "playback", session: session.session, position: at });
  }

  // The recorded time on screen is the moment the anomaly was seen.
  function report() {
    if (!camera) { say(t("an.pickFirst")); return; }
    const time = position.dataset.position;
    if (!time) { say(t("an.noPosition")); return; }
    reportAnomaly({ camera, mode: "playback", time: time.slice(0, 19) });
  }

  function pick(picked) {
    camera = picked;
    cameraLabel.textContent = `${picked.name || picked.channel_id} (${picked.channel_id})`;
    tree.mark([picked.channel_id]);
    search();
  }

  // -- record search, filled in slice by slice ---------------------------------------------

  function paint(found) {
    clear(segments);
    for (const record of found) {
      if (dayOf(record.start) !== dateInput.value) continue;
      const start = secondsOfDay(record.start);
      const end = dayOf(record.end) === dateInput.value ? secondsOfDay(record.end) : DAY_SECONDS;
      const segment = el("div", { class: `segment ${record.source}`, title: `${record.start} – ${record.end}` });
      segment.style.left = `${(start / DAY_SECONDS) * 100}%`;
      segment.style.width = `${Math.max(0.1, ((end - start) / DAY_SECONDS) * 100)}%`;
      segments.append(segment);
    }
    segments.dataset.count = String(segments.childElementCount);
  }

  async function search() {
    if (!camera) return;
    const generation = ++searchGeneration;
    clearTimeout(searchTimer);
    records = [];
    paint([]);
    say("");
    searchState.textContent = t("pb.searching");
    const day = dateInput.value;
    const query = new URLSearchParams({ start: `${day}T00:00:00`, end: dayEnd(day), source: sourceSelect.value, wait: "false" });
    try {
      let answer = await api("GET", `/api/channels/${camera.channel_id}/records?${query}`);
      while (generation === searchGeneration) {
        records = answer.records;
        paint(records);
        const incomplete = answer.slices.some((slice) => ["incomplete", "failed"].includes(slice.state));
        searchState.textContent = `${records.length} ${t("pb.found")}` +
          (answer.finished ? "" : ` · ${t("pb.searching")}`) + (incomplete ? ` · ${t("pb.incomplete")}` : "") +
          (answer.finished && !records.length ? ` · ${t("pb.none")}` : "");
        searchState.dataset.finished = String(answer.finished);
        if (answer.finished) return;
        await new Promise((resolve) => { searchTimer = setTimeout(resolve, 400); });
        answer = await api("GET", `/api/record-searches/${answer.search}`);
      }
    } catch (error) {
      if (generation === searchGeneration) searchState.textContent = error.message;
    }
  }

  // -- playing and seeking -------------------------------------------------------------------

  function secondsAt(event) {
    const box = timeline.getBoundingClientRect();
    return ((event.clientX - box.left) / box.width) * DAY_SECONDS;
  }

  function showCursor(seconds) {
    cursor.hidden = false;
    cursor.style.left = `${(seconds / DAY_SECONDS) * 100}%`;
  }

  async function playFrom(seconds) {
    if (!camera) { say(t("pb.pick")); return; }
    say("");
    const day = dateInput.value;
    const when = atSeconds(day, seconds);
    showCursor(seconds);
    const session = tile.session;
    // Within the open session: a seek (MANSRTSP, or a new INVITE where the device refuses).
    if (session && session.control && dayOf(session.start) === day && tile.state === "playing" &&
        when >= session.start && when < session.end) {
      await control({ action: "seek", position: when });
      return;
    }
    await tile.playback(camera, when, dayEnd(day), sourceSelect.value);
    speedSelect.value = "1";
    clearInterval(positionTimer);
    positionTimer = setInterval(showPosition, 1000);
    showPosition();
  }

  async function control(body) {
    const session = tile.session;
    if (!session || !session.control) return;
    try {
      await api("POST", session.control, body);
      await showPosition();
    } catch (error) { say(error.message); }
  }

  async function showPosition() {
    const session = tile.session;
    if (!session || !session.status) return;
    try {
      const now = await api("GET", session.status);
      position.textContent = `${(now.position || "").replace("T", " ")} ×${now.scale} ${t(`state.${now.state}`)}`;
      position.dataset.position = now.position || "";
      position.dataset.state = now.state;
      if (now.position && dayOf(now.position) === dateInput.value) showCursor(secondsOfDay(now.position));
      if (now.state === "ended") { tile.show("ended", `${t("tile.ended")} (${now.end_reason || ""})`, true); clearInterval(positionTimer); }
    } catch { /* the next tick tries again */ }
  }

  let dragging = false;
  timeline.addEventListener("pointerdown", (event) => {
    dragging = true;
    timeline.setPointerCapture(event.pointerId);
    showCursor(secondsAt(event));
  });
  timeline.addEventListener("pointermove", (event) => {
    const seconds = Math.max(0, Math.min(DAY_SECONDS - 1, secondsAt(event)));
    hover.hidden = false;
    hover.textContent = atSeconds(dateInput.value, seconds).slice(11);
    hover.style.left = `${(seconds / DAY_SECONDS) * 100}%`;
    if (dragging) showCursor(seconds);
  });
  timeline.addEventListener("pointerleave", () => { hover.hidden = true; });
  timeline.addEventListener("pointerup", (event) => {
    if (!dragging) return;
    dragging = false;
    playFrom(secondsAt(event));
  });
  dateInput.addEventListener("change", () => { tile.close(); search(); });
  sourceSelect.addEventListener("change", () => search());

  // -- downloads ---------------------------------------------------------------------------

  async function download() {
    if (!camera) { say(t("pb.pick")); return; }
    const day = dateInput.value;
    const seconds = (input) => (input.value.length === 5 ? `${input.value}:00` : input.value);
    const body = { start: `${day}T${seconds(fromInput)}`, end: `${day}T${seconds(toInput)}`, speed: 4 };
    if (sourceSelect.value !== "all") body.source = sourceSelect.value;
    try {
      const task = await api("POST", `/api/channels/${camera.channel_id}/downloads`, body);
      const bar = el("progress", { max: "1", value: "0" });
      const state = el("span", { class: "dl-state" }, t("dl.pending"));
      const actions = el("span", {});
      const item = el("li", { dataset: { task: task.id } },
        el("span", {}, `${camera.name || camera.channel_id} ${body.start.replace("T", " ")} – ${body.end.slice(11)}`),
        bar, state, actions);
      downloadList.prepend(item);
      const cancel = el("button", { type: "button", onclick: async () => {
        try { await api("DELETE", `/api/downloads/${task.id}`); } catch (error) { say(error.message); }
      } }, t("dl.cancel"));
      actions.append(cancel);
      downloads.set(task.id, { bar, state, actions, item, done: false });
    } catch (error) { say(error.message); }
  }

  async function followDownloads() {
    for (const [id, entry] of downloads) {
      if (entry.done) continue;
      try {
        const task = await api("GET", `/api/downloads/${id}`);
        entry.bar.value = task.progress || 0;
        entry.item.dataset.state = task.state;
        entry.state.textContent = `${t(`dl.${task.state}`)} ${Math.round((task.progress || 0) * 100)}%` +
          (task.error ? ` — ${task.error}` : "");
        if (["completed", "failed", "cancelled"].includes(task.state)) {
          entry.done = true;
          clear(entry.actions);
          if (task.state === "completed") {
            entry.actions.append(el("a", { href: `/api/downloads/${id}/file`, download: "" }, t("dl.save")));
          }
        }
      } catch (error) { entry.state.textContent = error.message; }
    }
  }
  const downloadTimer = setInterval(followDownloads, 1000);

  tree.refresh();
  return () => {
    searchGeneration++;
    clearTimeout(searchTimer);
    clearInterval(positionTimer);
    clearInterval(downloadTimer);
    tile.dispose();
    window.farmwatchTiles = [];
  };
}
