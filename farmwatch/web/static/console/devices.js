// Device management (administrators): enrol a device with its own SIP password, create a
// farm, put a device on a farm, see the GB/T 28181 edition it speaks and set how live offers
// ask it for a sub stream (its stream dialect), and set each camera's key area and location
// number.

import { api } from "./api.js";
import { el, clear } from "./dom.js";
import { currentLanguage, t } from "./i18n.js";
import { loadTree } from "./tree.js";

function field(label, input) { return el("label", { class: "field" }, el("span", {}, label), input); }

const DIALECTS = ["auto", "streamnumber", "streamprofile", "streamMode", "stream", "none"];
const PAGE = 1000;

/** Every device the caller may see, by ID (the tree has no edition nor dialect). */
async function loadDevices() {
  const found = new Map();
  for (let offset = 0; ; offset += PAGE) {
    const page = await api("GET", `/api/devices?limit=${PAGE}&offset=${offset}`);
    for (const device of page.devices) found.set(device.device_id, device);
    if (offset + PAGE >= page.total) return found;
  }
}

function editionText(device) {
  if (!device) return "";
  const edition = `GB/T 28181-${device.gb_edition}`;
  return device.gb_version ? `${edition} (X-GB-Ver ${device.gb_version})` : `${edition} (${t("dev.noGbVer")})`;
}

/** The stream dialect row: the select (empty value: as configured), save, what is in effect. */
function dialectRow(device, attempt) {
  const current = device.stream_dialect;
  const select = el("select", { class: "stream-dialect", title: t("dev.dialectHint") },
    el("option", { value: "", selected: current.setting === null }, t("dialect.follow")),
    DIALECTS.map((name) => el("option", { value: name, selected: current.setting === name }, t(`dialect.${name}`))));
  const effect = el("span", { class: "muted dialect-effective", dataset: { source: current.source, dialect: current.dialect } },
    t("dialect.in", { dialect: current.dialect, source: t(`dialectSource.${current.source}`) }));
  return el("div", { class: "toolbar dev-stream" },
    el("span", {}, t("dev.gbVersion")), el("span", { class: "gb-edition" }, editionText(device)),
    el("span", {}, t("dev.dialect")), select,
    el("button", { type: "button", class: "save-dialect", onclick: () => attempt(
      () => api("PUT", `/api/devices/${device.device_id}/stream-dialect`, { dialect: select.value || null }),
      t("dev.saved")) }, t("dev.save")),
    effect);
}

export function mount(container) {
  const message = el("p", { class: "state", id: "dev-message", role: "status" });
  const list = el("div", { id: "dev-list" });
  let tree = null;
  let organisations = [];
  let devices = new Map();

  function say(text, isError = false) {
    message.textContent = text;
    message.className = `state${isError ? " error" : ""}`;
  }

  async function attempt(action, done) {
    try { await action(); say(done); await refresh(); } catch (error) { say(error.message, true); }
  }

  // -- enrol -------------------------------------------------------------------------------
  const deviceId = el("input", { id: "dev-id", required: true, pattern: "[0-9]{20}", inputmode: "numeric", maxlength: "20" });
  const password = el("input", { id: "dev-password", type: "password", required: true, autocomplete: "new-password" });
  const name = el("input", { id: "dev-name" });
  const farmSelect = el("select", { id: "dev-farm" });
  const enrolForm = el("form", { class: "card", id: "dev-enrol" }, el("h2", {}, t("dev.enrol")),
    field(t("dev.id"), deviceId), field(t("dev.password"), password), field(t("dev.name"), name),
    field(t("dev.farm"), farmSelect), el("button", { type: "submit" }, t("dev.submit")));
  enrolForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const body = { device_id: deviceId.value.trim(), password: password.value };
    if (name.value.trim()) body.name = name.value.trim();
    if (farmSelect.value) body.farm_id = Number(farmSelect.value);
    attempt(() => api("POST", "/api/devices", body), t("dev.enrolled")).then(() => { password.value = ""; });
  });

  // -- farms -------------------------------------------------------------------------------
  const farmName = el("input", { id: "farm-name", required: true });
  const filing = el("input", { id: "farm-filing", required: true });
  const orgSelect = el("select", { id: "farm-org" });
  const farmForm = el("form", { class: "card", id: "farm-create" }, el("h2", {}, t("dev.newFarm")),
    field(t("dev.farmName"), farmName), field(t("dev.filing"), filing), field(t("dev.org"), orgSelect),
    el("button", { type: "submit" }, t("dev.create")));
  farmForm.addEventListener("submit", (event) => {
    event.preventDefault();
    attempt(() => api("POST", "/api/farms", {
      name: farmName.value, filing_number: filing.value, organisation_id: Number(orgSelect.value),
    }), t("dev.saved"));
  });

  container.append(el("section", { class: "admin" }, el("h1", {}, t("dev.title")), message,
    el("div", { class: "cards" }, enrolForm, farmForm), el("h2", {}, t("dev.list")), list));

  function farmOptions(selected) {
    return [el("option", { value: "" }, t("dev.noFarm")),
      ...tree.farms.map((farm) => el("option", { value: String(farm.id), selected: farm.id === selected },
        `${farm.name} (${farm.filing_number})`))];
  }

  function areaOptions(selected) {
    return [el("option", { value: "" }, t("area.none")),
      ...tree.key_areas.map((area) => el("option", { value: area.value, selected: area.value === selected },
        currentLanguage() === "en" ? area.en : area.zh))];
  }

  function cameraRow(camera) {
    const area = el("select", { class: "key-area", dataset: { channel: camera.channel_id } }, areaOptions(camera.key_area));
    const location = el("input", { class: "location", value: camera.location || "", maxlength: "64",
      placeholder: t("location"), dataset: { channel: camera.channel_id } });
    return el("tr", { dataset: { channel: camera.channel_id } },
      el("td", {}, camera.name || ""), el("td", { class: "mono" }, camera.channel_id),
      el("td", {}, camera.online ? t("online") : t("offline")), el("td", {}, area), el("td", {}, location),
      el("td", {}, el("button", { type: "button", class: "save-place", onclick: () => attempt(
        () => api("PUT", `/api/channels/${camera.channel_id}/placement`, { key_area: area.value || null, location: location.value || null }),
        t("dev.saved")) }, t("dev.save"))));
  }

  function render() {
    clear(farmSelect).append(...farmOptions(null));
    clear(orgSelect).append(...organisations.map((org) => el("option", { value: String(org.id) }, org.name)));
    clear(list);
    for (const device of tree.devices) {
      const farm = el("select", { class: "device-farm" }, farmOptions(device.farm_id));
      list.append(el("div", { class: "card device-card", dataset: { device: device.device_id } },
        el("h3", {}, `${device.name || device.device_id} `, el("span", { class: "mono muted" }, device.device_id),
          el("span", { class: device.online ? "ok" : "bad" }, ` ${device.online ? t("online") : t("offline")}`)),
        el("div", { class: "toolbar" }, el("span", {}, t("dev.place")), farm,
          el("button", { type: "button", class: "save-farm", onclick: () => attempt(
            () => api("PUT", `/api/devices/${device.device_id}/farm`, { farm_id: farm.value ? Number(farm.value) : null }),
            t("dev.saved")) }, t("dev.save"))),
        devices.has(device.device_id) ? dialectRow(devices.get(device.device_id), attempt) : null,
        device.cameras.length ? el("table", {}, el("thead", {}, el("tr", {},
          [t("dev.name"), "ID", "", t("keyArea"), t("location"), ""].map((head) => el("th", {}, head)))),
        el("tbody", {}, device.cameras.map(cameraRow))) : null));
    }
  }

  async function refresh() {
    try {
      [tree, { organisations }, devices] = await Promise.all(
        [loadTree(), api("GET", "/api/organisations"), loadDevices()]);
      render();
    } catch (error) { say(error.message, true); }
  }
  refresh();
}
