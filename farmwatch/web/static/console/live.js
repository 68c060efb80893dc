// Multi-screen live view, 1/4/9/16 tiles. The layout and each tile's camera are remembered
// per person in localStorage; tiles close after a spell with no mouse, key or touch
// activity (cameras are not streamed to an unattended screen), and reopen on a click.
// Under the grid: the PTZ pad and 喊话 act on the selected tile's camera; the 设备抓拍 panel
// on the camera last picked or selected (each tile's 抓拍 button asks that tile's camera).

import { el, clear } from "./dom.js";
import { t } from "./i18n.js";
import { Tile, viewerName } from "./player.js";
import { openMonitoringForm } from "./monitoring.js";
import { createPtzPad } from "./ptz.js";
import { reportAnomaly } from "./report.js";
import { createSnapshotPanel } from "./snapshots.js";
import { createTalkButton } from "./talk.js";
import { camerasOf, createTreeView } from "./tree.js";

const LAYOUTS = [1, 4, 9, 16];
// Minutes without activity before the tiles close; a site may set its own
// (localStorage "farmwatch.idleMinutes").
const IDLE_MINUTES = Number(localStorage.getItem("farmwatch.idleMinutes")) || 15;

function storageKey(me) { return `farmwatch.live.${me.username || me.token_id}`; }

function remembered(me) {
  try {
    const saved = JSON.parse(localStorage.getItem(storageKey(me)) || "{}");
    return {
      layout: LAYOUTS.includes(saved.layout) ? saved.layout : 4,
      tiles: Array.isArray(saved.tiles) ? saved.tiles : [],
    };
  } catch {
    return { layout: 4, tiles: [] };
  }
}

export function mount(container, { me }) {
  const state = remembered(me);
  const viewer = viewerName(me);
  let tiles = [];
  let selected = 0;
  const grid = el("div", { class: "grid", id: "grid" });
  const tree = createTreeView({ onPick: (camera) => put(camera) });
  const layoutButtons = LAYOUTS.map((count) => el("button", {
    type: "button", class: "layout", dataset: { layout: String(count) },
    onclick: () => setLayout(count),
  }, String(count)));
  const toolbar = el("div", { class: "toolbar" },
    el("span", {}, t("layout")), layoutButtons,
    el("button", { type: "button", id: "close-all", onclick: () => tiles.forEach((tile) => tile.close()) }, t("live.closeAll")),
    el("button", { type: "button", id: "live-record", class: "primary", onclick: () => record() }, t("mr.button")),
    el("button", { type: "button", id: "an-report-live", class: "report", onclick: () => report() }, t("an.report")),
    el("span", { class: "muted", id: "live-hint" }, t("live.hint")));
  const selectedCamera = () => (tiles[selected] ? tiles[selected].camera : null);
  const pad = createPtzPad(selectedCamera);
  const talk = createTalkButton(selectedCamera);
  const snapshots = createSnapshotPanel();
  container.append(tree.node, el("section", { class: "live" }, toolbar, grid,
    el("div", { class: "controls" }, pad.node, talk.node, pad.kept), snapshots.node));
  // The tile's own 抓拍: that tile's camera, whichever tile is selected.
  const tileTools = (tile) => [el("button", { type: "button", class: "tile-snap", title: t("snap.tileTitle"),
    onclick: (event) => { event.stopPropagation(); select(tile.index); snapshots.take(tile.camera); } }, t("snap.take"))];

  // A monitoring record of the selected tile's camera (the platform takes the snapshot).
  function record() {
    const camera = tiles[selected] && tiles[selected].camera;
    if (!camera) { toolbar.querySelector("#live-hint").textContent = t("mr.noCamera"); return; }
    openMonitoringForm(camera, { mode: "live" });
  }

  // The selected tile's camera: the anomaly is seen now.
  function report() {
    const tile = tiles[selected] && tiles[selected].camera ? tiles[selected] : tiles.find((one) => one.camera);
    if (!tile) { window.alert(t("an.pickFirst")); return; }
    reportAnomaly({ camera: tile.camera, mode: "live" });
  }

  function save() {
    state.tiles = tiles.map((tile) => (tile.camera ? tile.camera.channel_id : null));
    localStorage.setItem(storageKey(me), JSON.stringify(state));
    tree.mark(state.tiles.filter(Boolean));
  }

  function select(index) {
    selected = index;
    tiles.forEach((tile, i) => tile.node.classList.toggle("selected", i === index));
    if (tiles[index] && tiles[index].camera) snapshots.show(tiles[index].camera);
  }

  function put(camera) {
    // The selected tile, or the first empty one when the selected one is playing.
    let index = selected;
    if (tiles[index].camera) {
      const empty = tiles.findIndex((tile) => !tile.camera);
      if (empty >= 0) index = empty;
    }
    tiles[index].play(camera);
    select((index + 1) % tiles.length);
    snapshots.show(camera);
    save();
  }

  function setLayout(count) {
    const cameras = tiles.map((tile) => tile.camera);
    for (const tile of tiles.slice(count)) tile.dispose();
    tiles = tiles.slice(0, count);
    while (tiles.length < count) {
      tiles.push(new Tile({ viewer, index: tiles.length, onSelect: (tile) => select(tile.index), onClose: save, tools: tileTools }));
    }
    tiles.forEach((tile) => { tile.small = count >= 9; });  // the next start asks for a sub-stream
    state.layout = count;
    grid.className = `grid grid-${count}`;
    clear(grid).append(...tiles.map((tile) => tile.node));
    layoutButtons.forEach((button) => button.classList.toggle("current", Number(button.dataset.layout) === count));
    if (selected >= count) select(0); else select(selected);
    save();
    window.farmwatchTiles = tiles;  // the browser tests and benchmark read getStats() here
    return cameras;
  }

  // Inactivity: every tile is closed, and the next click of its retry button plays again.
  let idleTimer = null;
  const idle = () => tiles.forEach((tile) => tile.suspend());
  const active = () => { clearTimeout(idleTimer); idleTimer = setTimeout(idle, IDLE_MINUTES * 60_000); };
  const events = ["pointerdown", "pointermove", "keydown", "wheel", "touchstart"];
  events.forEach((name) => window.addEventListener(name, active, { passive: true }));
  active();
  const closeOnLeave = () => tiles.forEach((tile) => tile.stop());
  window.addEventListener("pagehide", closeOnLeave);

  const restore = state.tiles.slice();  // setLayout saves the empty tiles over it
  setLayout(state.layout);
  tree.refresh().then((data) => {
    if (!data) return;
    const known = new Map(camerasOf(data).map((camera) => [camera.channel_id, camera]));
    restore.slice(0, tiles.length).forEach((channelId, index) => {
      const camera = channelId && known.get(channelId);
      if (camera) tiles[index].play(camera);  // a camera no longer granted is dropped
    });
    const shown = tiles.find((tile) => tile.camera);
    if (shown) snapshots.show(shown.camera);
    save();
  });

  return () => {
    clearTimeout(idleTimer);
    events.forEach((name) => window.removeEventListener(name, active));
    window.removeEventListener("pagehide", closeOnLeave);
    talk.dispose();
    snapshots.dispose();
    tiles.forEach((tile) => tile.dispose());
    window.farmwatchTiles = [];
  };
}
