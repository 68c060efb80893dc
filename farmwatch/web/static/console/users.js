// Users and camera grants (administrators; regulation art. 10: the administrator sets the
// users' roles and assigns their rights): create, lock/unlock, enable/disable, and grant a
// monitor cameras one by one, a device's, or a whole farm's.

import { api } from "./api.js";
import { el, clear } from "./dom.js";
import { t } from "./i18n.js";
import { camerasOf, loadTree } from "./tree.js";

function field(label, input) { return el("label", { class: "field" }, el("span", {}, label), input); }

export function mount(container) {
  const message = el("p", { class: "state", id: "users-message", role: "status" });
  const table = el("tbody", { id: "users-rows" });
  const grantsBox = el("div", { class: "card", id: "grants" }, el("p", { class: "muted" }, t("users.pick")));
  let organisations = [];
  let tree = null;

  function say(text, isError = false) {
    message.textContent = text;
    message.className = `state${isError ? " error" : ""}`;
  }

  const username = el("input", { id: "user-name", required: true, autocomplete: "off" });
  const display = el("input", { id: "user-display" });
  const orgSelect = el("select", { id: "user-org" });
  const role = el("select", { id: "user-role" }, ["monitor", "administrator"].map((value) => el("option", { value }, t(`role.${value}`))));
  const password = el("input", { id: "user-password", type: "password", required: true, autocomplete: "new-password" });
  const form = el("form", { class: "card", id: "user-create" }, el("h2", {}, t("users.create")),
    field(t("users.username"), username), field(t("users.display"), display), field(t("users.org"), orgSelect),
    field(t("users.role"), role), field(t("users.password"), password), el("button", { type: "submit" }, t("users.create")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { username: username.value.trim(), organisation_id: Number(orgSelect.value), role: role.value, password: password.value };
    if (display.value.trim()) body.display_name = display.value.trim();
    try { await api("POST", "/api/users", body); password.value = ""; say("✓"); await refresh(); }
    catch (error) { say(error.message, true); }
  });

  container.append(el("section", { class: "admin" }, el("h1", {}, t("users.title")), message,
    el("div", { class: "cards" },
      el("div", { class: "card wide" }, el("table", {}, el("thead", {}, el("tr", {},
        [t("users.username"), t("users.display"), t("users.role"), t("users.org"), t("users.enabled"), ""].map((head) => el("th", {}, head)))),
      table)), form),
    grantsBox));

  function orgName(id) { const org = organisations.find((entry) => entry.id === id); return org ? org.name : String(id); }

  async function act(action) {
    try { await action(); await refresh(); } catch (error) { say(error.message, true); }
  }

  async function showGrants(user) {
    clear(grantsBox).append(el("h2", {}, `${t("users.grants")}: ${user.username}`));
    let grants = [];
    try { ({ grants } = await api("GET", `/api/users/${user.id}/grants`)); } catch (error) { say(error.message, true); return; }
    grantsBox.append(el("ul", { class: "grants" }, grants.map((grant) => el("li", { dataset: { kind: grant.kind, target: grant.target } },
      `${t(`kind.${grant.kind}`)} ${grant.target} `,
      el("button", { type: "button", onclick: async () => {
        try { await api("DELETE", `/api/users/${user.id}/grants/${grant.kind}/${encodeURIComponent(grant.target)}`); showGrants(user); }
        catch (error) { say(error.message, true); }
      } }, t("users.revoke"))))));
    const kind = el("select", { id: "grant-kind" }, ["channel", "device", "farm"].map((value) => el("option", { value }, t(`kind.${value}`))));
    const target = el("select", { id: "grant-target" });
    const fill = () => {
      const options = kind.value === "channel"
        ? camerasOf(tree).map((camera) => [camera.channel_id, `${camera.name || ""} ${camera.channel_id}`])
        : kind.value === "device" ? tree.devices.map((device) => [device.device_id, `${device.name || ""} ${device.device_id}`])
          : tree.farms.map((farm) => [String(farm.id), `${farm.name} (${farm.filing_number})`]);
      clear(target).append(...options.map(([value, label]) => el("option", { value }, label)));
    };
    kind.addEventListener("change", fill);
    fill();
    const add = el("form", { class: "toolbar", id: "grant-form" }, field(t("users.kind"), kind), field(t("users.target"), target),
      el("button", { type: "submit" }, t("users.grant")));
    add.addEventListener("submit", async (event) => {
      event.preventDefault();
      try { await api("POST", `/api/users/${user.id}/grants`, { kind: kind.value, target: target.value }); showGrants(user); }
      catch (error) { say(error.message, true); }
    });
    grantsBox.append(add);
  }

  async function refresh() {
    let users;
    try {
      [{ users }, { organisations }, tree] = await Promise.all([
        api("GET", "/api/users"), api("GET", "/api/organisations"), loadTree()]);
    } catch (error) { say(error.message, true); return; }
    clear(orgSelect).append(...organisations.map((org) => el("option", { value: String(org.id) }, org.name)));
    clear(table).append(...users.map((user) => {
      const locked = user.locked_until && new Date(user.locked_until) > new Date();
      return el("tr", { dataset: { user: user.username } },
        el("td", {}, el("button", { type: "button", class: "link", onclick: () => showGrants(user) }, user.username)),
        el("td", {}, user.display_name), el("td", {}, t(`role.${user.role}`)), el("td", {}, orgName(user.organisation_id)),
        el("td", {}, user.enabled ? "✓" : "✗", locked ? ` ${t("users.locked")}` : ""),
        el("td", {},
          locked ? el("button", { type: "button", onclick: () => act(() => api("POST", `/api/users/${user.id}/unlock`)) }, t("users.unlock")) : null,
          el("button", { type: "button", onclick: () => act(() => api("PUT", `/api/users/${user.id}/enabled`, { enabled: !user.enabled })) },
            user.enabled ? t("users.disable") : t("users.enable"))));
    }));
  }
  refresh();
}
