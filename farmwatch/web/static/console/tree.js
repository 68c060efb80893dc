// The organisation → farm → device → camera tree of GET /api/tree: online states, each
// camera's key area and location number, and a search box. The API has filtered it to what
// the signed-in person may see; nothing here decides access.

import { api } from "./api.js";
import { el, clear } from "./dom.js";
import { currentLanguage, t } from "./i18n.js";

export async function loadTree() {
  return api("GET", "/api/tree");
}

export function areaLabel(tree, value) {
  const area = tree.key_areas.find((entry) => entry.value === value);
  if (!area) return t("area.none");
  return currentLanguage() === "en" ? area.en : area.zh;
}

/** Every camera of the tree, with its device and farm beside it. */
export function camerasOf(tree) {
  const farms = new Map(tree.farms.map((farm) => [farm.id, farm]));
  return tree.devices.flatMap((device) => device.cameras.map((camera) => ({
    ...camera, device, farm: farms.get(device.farm_id) || null,
  })));
}

function matches(text, needle) {
  return (text || "").toLowerCase().includes(needle);
}

/**
 * A tree view. `onPick(camera)` is called when a camera is clicked; `marked` (a Set of
 * channel IDs) are highlighted (the cameras on screen).
 */
export function createTreeView({ onPick }) {
  const search = el("input", { type: "search", id: "tree-search", placeholder: t("search") });
  const body = el("div", { class: "tree-body", id: "tree" });
  const node = el("aside", { class: "tree" }, search, body);
  let tree = null;
  let marked = new Set();

  function cameraNode(camera) {
    const label = [camera.name || camera.channel_id];
    const area = camera.key_area ? areaLabel(tree, camera.key_area) : null;
    return el("li", {},
      el("button", {
        type: "button", class: `camera ${camera.online ? "online" : "offline"}${marked.has(camera.channel_id) ? " marked" : ""}`,
        dataset: { channel: camera.channel_id }, title: camera.channel_id,
        onclick: () => onPick(camera),
      },
      el("span", { class: "dot", title: camera.online ? t("online") : t("offline") }),
      el("span", { class: "name" }, label),
      area ? el("span", { class: "area" }, area) : null,
      camera.location ? el("span", { class: "location" }, camera.location) : null));
  }

  function render() {
    clear(body);
    if (!tree) return;
    const needle = search.value.trim().toLowerCase();
    const farms = new Map(tree.farms.map((farm) => [farm.id, farm]));
    const deviceNodes = new Map();  // farm id (or "none") → [li]
    let shown = 0;
    for (const device of tree.devices) {
      const farm = farms.get(device.farm_id);
      const deviceHit = needle && (matches(device.name, needle) || matches(device.device_id, needle) ||
        (farm && (matches(farm.name, needle) || matches(farm.filing_number, needle))));
      const cameras = device.cameras.filter((camera) => !needle || deviceHit ||
        matches(camera.name, needle) || matches(camera.channel_id, needle) ||
        matches(camera.location, needle) || matches(camera.key_area && areaLabel(tree, camera.key_area), needle))
        .map((camera) => ({ ...camera, device, farm: farm || null }));
      if (needle && !cameras.length && !deviceHit) continue;
      shown += cameras.length;
      const item = el("li", {}, el("details", { open: true, class: "device" },
        el("summary", {},
          el("span", { class: `dot ${device.online ? "online" : "offline"}` }),
          el("span", { class: "name" }, device.name || device.device_id),
          el("span", { class: "muted" }, ` ${device.online ? t("online") : t("offline")}`)),
        el("ul", {}, cameras.map(cameraNode))));
      const key = farm ? farm.id : "none";
      if (!deviceNodes.has(key)) deviceNodes.set(key, []);
      deviceNodes.get(key).push(item);
    }
    const orgIds = new Set(tree.organisations.map((org) => org.id));
    function farmNode(farm) {
      const devices = deviceNodes.get(farm.id);
      if (!devices && needle) return null;
      return el("li", {}, el("details", { open: true, class: "farm" },
        el("summary", {}, el("span", { class: "name" }, farm.name),
          el("span", { class: "muted" }, ` ${farm.filing_number}`)),
        el("ul", {}, devices || [])));
    }
    function orgNode(org) {
      const children = tree.organisations.filter((child) => child.parent_id === org.id).map(orgNode);
      const farmItems = tree.farms.filter((farm) => farm.organisation_id === org.id).map(farmNode);
      const items = [...children, ...farmItems].filter(Boolean);
      if (!items.length && needle) return null;
      return el("li", {}, el("details", { open: true, class: "org" },
        el("summary", {}, el("span", { class: "name" }, org.name),
          el("span", { class: "muted" }, ` ${t(`tier.${org.tier}`)}`)),
        el("ul", {}, items)));
    }
    const roots = tree.organisations.filter((org) => org.parent_id === null || !orgIds.has(org.parent_id));
    const list = el("ul", { class: "root" }, roots.map(orgNode).filter(Boolean));
    const unplaced = deviceNodes.get("none");
    if (unplaced) {
      list.append(el("li", {}, el("details", { open: true, class: "farm unplaced" },
        el("summary", {}, el("span", { class: "name" }, t("unplaced"))), el("ul", {}, unplaced))));
    }
    body.append(list);
    if (!shown) body.append(el("p", { class: "state" }, t("tree.empty")));
    body.dataset.cameras = String(shown);
  }

  search.addEventListener("input", render);
  return {
    node,
    get data() { return tree; },
    async refresh() {
      try {
        tree = await loadTree();
        render();
      } catch (error) {
        clear(body).append(el("p", { class: "state error" }, error.message));
      }
      return tree;
    },
    mark(channelIds) { marked = new Set(channelIds); render(); },
  };
}
