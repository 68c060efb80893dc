// The farm register (养殖场备案, regulation art. 5–6): the farms the signed-in person may
// see with their approval state; a farm's particulars, the history of the decisions on its
// state, its application documents and its cameras. Administrators enrol farms, edit them,
// record decisions and upload documents; monitors only read (the API refuses them anyway).

import { ApiError, api, headersFor, toLogin } from "./api.js";
import { el, clear } from "./dom.js";
import { currentLanguage, t } from "./i18n.js";

function field(label, input) { return el("label", { class: "field" }, el("span", {}, label), input); }
function label(choice) { return choice ? (currentLanguage() === "en" ? choice.en : choice.zh) : ""; }
function choiceOf(list, value) { return list.find((entry) => entry.value === value); }
function options(list, selected, empty) {
  return [empty === undefined ? null : el("option", { value: "" }, empty),
    ...list.map((entry) => el("option", { value: entry.value, selected: entry.value === selected }, label(entry)))];
}
function stateBadge(state) { return el("span", { class: `farm-state state-${state.value}` }, label(state)); }
function size(bytes) { return bytes < 1024 ? `${bytes} B` : bytes < 1048576 ? `${(bytes / 1024).toFixed(1)} KB` : `${(bytes / 1048576).toFixed(1)} MB`; }
function wanted() { return new URLSearchParams(location.hash.split("?")[1] || "").get("id"); }

async function upload(farmId, file, remark, supersedes) {
  const form = new FormData();
  if (remark) form.append("remark", remark);
  if (supersedes) form.append("supersedes", supersedes);
  form.append("file", file, file.name);  // the file part last: the server streams it
  const response = await fetch(`/api/farms/${farmId}/documents`, { method: "POST", headers: headersFor("POST"), body: form });
  if (response.status === 401) { toLogin(); throw new ApiError(401, "not logged in"); }
  const data = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, (data && data.error) || `HTTP ${response.status}`);
  return data;
}

export function mount(container, context) {
  const isAdmin = context.me && context.me.role === "administrator";
  const message = el("p", { class: "state", id: "farm-message", role: "status" });
  const section = el("section", { class: "admin farms" }, el("h1", {}, t("farm.title")), message);
  container.append(section);
  let choices = null;
  let organisations = new Map();

  function say(text, isError = false) {
    message.textContent = text;
    message.className = `state${isError ? " error" : ""}`;
  }

  async function attempt(action, done, after) {
    try { await action(); say(done); await after(); } catch (error) { say(error.message, true); }
  }

  // -- the list ----------------------------------------------------------------------------
  async function showList() {
    const state = el("select", { id: "farm-filter-state" }, options(choices.states, null, t("farm.allStates")));
    const text = el("input", { id: "farm-filter-text", type: "search", placeholder: t("farm.search") });
    const rows = el("tbody", { id: "farm-rows" });
    const body = el("div", { class: "card wide" }, el("form", { class: "toolbar", id: "farm-filter" }, state, text,
      el("button", { type: "submit" }, t("farm.find"))),
    el("table", { id: "farm-list" }, el("thead", {}, el("tr", {},
      [t("farm.filing"), t("farm.name"), t("farm.org"), t("farm.operator"), t("farm.species"), t("farm.state")].map((head) => el("th", {}, head)))),
    rows));
    async function load() {
      const query = new URLSearchParams();
      if (state.value) query.set("state", state.value);
      if (text.value.trim()) query.set("q", text.value.trim());
      const { farms } = await api("GET", `/api/farms?${query}`);
      clear(rows).append(...farms.map((farm) => el("tr", { dataset: { farm: farm.filing_number } },
        el("td", { class: "mono" }, farm.filing_number),
        el("td", {}, el("a", { href: `#/farms?id=${farm.id}` }, farm.name)),
        el("td", {}, organisations.get(farm.organisation_id) || ""),
        el("td", {}, farm.operator || ""),
        el("td", {}, farm.species === "other" ? farm.species_other : label(choiceOf(choices.species, farm.species))),
        el("td", {}, stateBadge(choiceOf(choices.states, farm.state))))));
      if (!farms.length) rows.append(el("tr", {}, el("td", { colspan: "6", class: "muted" }, t("farm.none"))));
    }
    body.querySelector("form").addEventListener("submit", (event) => { event.preventDefault(); load().catch((error) => say(error.message, true)); });
    section.append(el("div", { class: "cards" }, body, isAdmin ? await enrolForm() : null));
    await load();
  }

  function particularInputs(farm = {}) {
    const inputs = {
      name: el("input", { id: "farm-f-name", required: true, maxlength: "128", value: farm.name || "" }),
      filing_number: el("input", { id: "farm-f-filing", required: true, maxlength: "64", value: farm.filing_number || "" }),
      operator: el("input", { id: "farm-f-operator", maxlength: "128", value: farm.operator || "" }),
      phone: el("input", { id: "farm-f-phone", maxlength: "32", value: farm.phone || "" }),
      address: el("input", { id: "farm-f-address", maxlength: "256", value: farm.address || "" }),
      species: el("select", { id: "farm-f-species" }, options(choices.species, farm.species, t("farm.unset"))),
      species_other: el("input", { id: "farm-f-species-other", maxlength: "64", value: farm.species_other || "", placeholder: t("farm.speciesOther") }),
    };
    const fields = [field(t("farm.name"), inputs.name), field(t("farm.filing"), inputs.filing_number),
      field(t("farm.operator"), inputs.operator), field(t("farm.phone"), inputs.phone),
      field(t("farm.address"), inputs.address), field(t("farm.species"), el("span", { class: "toolbar" }, inputs.species, inputs.species_other))];
    const values = () => ({
      name: inputs.name.value, filing_number: inputs.filing_number.value,
      operator: inputs.operator.value || null, phone: inputs.phone.value || null, address: inputs.address.value || null,
      species: inputs.species.value || null, species_other: inputs.species_other.value || null,
    });
    return { fields, values };
  }

  async function enrolForm() {
    const { organisations: reachable } = await api("GET", "/api/organisations");
    const org = el("select", { id: "farm-f-org" }, reachable.map((entry) => el("option", { value: String(entry.id) }, entry.name)));
    const appliedOn = el("input", { id: "farm-f-applied", type: "date" });
    const remark = el("input", { id: "farm-f-remark", maxlength: "500" });
    const { fields, values } = particularInputs();
    const form = el("form", { class: "card narrow", id: "farm-enrol" }, el("h2", {}, t("farm.enrol")), ...fields,
      field(t("farm.org"), org), field(t("farm.appliedOn"), appliedOn), field(t("farm.remark"), remark),
      el("button", { type: "submit" }, t("farm.enrolSubmit")));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      attempt(async () => {
        const farm = await api("POST", "/api/farms", { ...values(), organisation_id: Number(org.value),
          applied_on: appliedOn.value || null, remark: remark.value || null });
        location.hash = `#/farms?id=${farm.id}`;
      }, t("farm.enrolled"), async () => {});
    });
    return form;
  }

  // -- one farm ----------------------------------------------------------------------------
  async function showFarm(id) {
    // Everything first, then the page at once (no card appears before the others).
    const [farm, { cameras }, { records }] = await Promise.all([
      api("GET", `/api/farms/${id}`), api("GET", `/api/farms/${id}/cameras`),
      api("GET", `/api/monitoring-records?farm=${id}&limit=10`)]);
    // Each of the farm's cameras' picture state (a farm has tens of cameras at most; the
    // list of every visible camera's state is the whole tier's at a bureau).
    const pictures = await Promise.all(cameras.map((camera) =>
      api("GET", `/api/channels/${encodeURIComponent(camera.channel_id)}/diagnosis?limit=1`)
        .then((found) => found.state, () => null)));
    const reload = async () => { clear(section).append(el("h1", {}, t("farm.title")), message); await showFarm(id); };
    const state = choiceOf(choices.states, farm.state);
    section.append(el("p", {}, el("a", { href: "#/farms", id: "farm-back" }, `← ${t("farm.back")}`)),
      el("h2", { id: "farm-heading" }, `${farm.name} `, el("span", { class: "mono muted" }, farm.filing_number), " ",
        el("span", { id: "farm-state-current" }, stateBadge(state))));
    const cards = el("div", { class: "cards" });
    section.append(cards);

    // Particulars: a form for administrators, a list for monitors.
    if (isAdmin) {
      const { fields, values } = particularInputs(farm);
      const form = el("form", { class: "card", id: "farm-edit" }, el("h3", {}, t("farm.particulars")), ...fields,
        el("button", { type: "submit" }, t("farm.save")));
      form.addEventListener("submit", (event) => { event.preventDefault(); attempt(() => api("PUT", `/api/farms/${id}`, values()), t("farm.saved"), reload); });
      cards.append(form);
    } else {
      const species = farm.species === "other" ? farm.species_other : label(choiceOf(choices.species, farm.species));
      cards.append(el("div", { class: "card", id: "farm-particulars" }, el("h3", {}, t("farm.particulars")),
        el("dl", { class: "facts" }, [[t("farm.operator"), farm.operator], [t("farm.phone"), farm.phone],
          [t("farm.address"), farm.address], [t("farm.species"), species],
          [t("farm.org"), organisations.get(farm.organisation_id)]].flatMap(([name, value]) => [el("dt", {}, name), el("dd", {}, value || "—")]))));
    }

    // The state and its history.
    const history = el("table", { id: "farm-history" }, el("thead", {}, el("tr", {},
      [t("farm.date"), t("farm.from"), t("farm.to"), t("farm.officer"), t("farm.remark")].map((head) => el("th", {}, head)))),
    el("tbody", {}, farm.history.map((change) => el("tr", {},
      el("td", {}, change.date), el("td", {}, change.from ? label(choiceOf(choices.states, change.from)) : "—"),
      el("td", {}, label(choiceOf(choices.states, change.to))), el("td", {}, change.officer.name), el("td", {}, change.remark || "")))));
    const stateCard = el("div", { class: "card wide", id: "farm-state-card" }, el("h3", {}, t("farm.stateHistory")), history);
    if (isAdmin && farm.next_states.length) {
      const next = el("select", { id: "farm-next" }, options(farm.next_states, null));
      const date = el("input", { id: "farm-date", type: "date" });
      const remark = el("input", { id: "farm-decision-remark", maxlength: "500", placeholder: t("farm.remark") });
      const decide = el("form", { class: "toolbar", id: "farm-decide" }, field(t("farm.decision"), next),
        field(t("farm.date"), date), field(t("farm.remark"), remark), el("button", { type: "submit" }, t("farm.record")));
      decide.addEventListener("submit", (event) => {
        event.preventDefault();
        attempt(() => api("POST", `/api/farms/${id}/state`, { state: next.value, date: date.value || null, remark: remark.value || null }),
          t("farm.recorded"), reload);
      });
      stateCard.append(decide);
    } else if (!farm.next_states.length) {
      stateCard.append(el("p", { class: "muted" }, t("farm.final")));
    }
    cards.append(stateCard);

    // Documents: never deleted, only superseded.
    const docs = el("div", { class: "card wide", id: "farm-documents" }, el("h3", {}, t("farm.documents")),
      el("table", {}, el("thead", {}, el("tr", {}, [t("farm.file"), t("farm.size"), "SHA-256", t("farm.uploaded"), t("farm.remark"), ""].map((head) => el("th", {}, head)))),
        el("tbody", { id: "farm-doc-rows" }, farm.documents.map((doc) => {
          const verdict = el("span", { class: "verdict-cell" });
          return el("tr", { class: doc.superseded ? "superseded" : undefined, dataset: { document: String(doc.id) } },
            el("td", {}, el("a", { href: doc.file, download: doc.file_name }, doc.file_name), doc.superseded ? el("span", { class: "muted" }, ` (${t("farm.superseded")})`) : null),
            el("td", {}, size(doc.size)), el("td", { class: "mono", title: doc.sha256 }, `${doc.sha256.slice(0, 16)}…`),
            el("td", {}, `${doc.uploaded_by.name} ${doc.uploaded_at.slice(0, 10)}`), el("td", {}, doc.remark || ""),
            el("td", {}, el("button", { type: "button", class: "verify", onclick: async () => {
              try {
                const check = await api("GET", doc.file.replace(/\/file$/, "/verify"));
                verdict.textContent = check.valid ? ` ✓ ${t("farm.intact")}` : ` ✗ ${check.missing ? t("farm.missing") : t("farm.altered")}`;
                verdict.className = `verdict-cell ${check.valid ? "ok" : "bad"}`;
              } catch (error) { say(error.message, true); }
            } }, t("farm.verify")), verdict));
        }))));
    if (isAdmin) {
      const file = el("input", { id: "farm-doc-file", type: "file", required: true });
      const remark = el("input", { id: "farm-doc-remark", maxlength: "500" });
      const supersedes = el("select", { id: "farm-doc-supersedes" }, el("option", { value: "" }, t("farm.supersedesNone")),
        farm.documents.filter((doc) => !doc.superseded).map((doc) => el("option", { value: String(doc.id) }, doc.file_name)));
      const form = el("form", { class: "toolbar", id: "farm-doc-upload" }, field(t("farm.file"), file), field(t("farm.remark"), remark),
        field(t("farm.supersedes"), supersedes), el("button", { type: "submit" }, t("farm.upload")));
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        if (!file.files.length) return;
        attempt(() => upload(id, file.files[0], remark.value, supersedes.value), t("farm.uploadedOk"), reload);
      });
      docs.append(form);
    }
    cards.append(docs);

    // Cameras with their key areas and the video quality diagnosis of each.
    const pictureOf = new Map(cameras.map((camera, index) => [camera.channel_id, pictures[index]]));
    cards.append(el("div", { class: "card wide", id: "farm-cameras" }, el("h3", {}, t("farm.cameras")),
      el("table", {}, el("thead", {}, el("tr", {}, [t("dev.name"), "ID", "", t("keyArea"), t("location"), t("farm.model"), t("farm.accessMethod"), t("diag.title"), ""].map((head) => el("th", {}, head)))),
        el("tbody", { id: "farm-camera-rows" }, cameras.length ? cameras.flatMap((camera) => cameraRows(camera, pictureOf.get(camera.channel_id)))
          : el("tr", {}, el("td", { colspan: "9", class: "muted" }, t("farm.noCameras")))))));
    cards.append(recordsCard(id, records));
  }

  // The farm's newest monitoring records (art. 18), linked to the records page filtered on it.
  function recordsCard(id, records) {
    return el("div", { class: "card wide", id: "farm-records" }, el("h3", {}, t("farm.records")),
      records.length ? el("table", {}, el("thead", {}, el("tr", {},
        ["mr.no", "mr.recordedAt", "mr.camera", "keyArea", "mr.mode", "mr.result", "mr.signer"].map((key) => el("th", {}, t(key))))),
      el("tbody", { id: "farm-record-rows" }, records.map((record) => el("tr", { dataset: { record: String(record.id) } },
        el("td", {}, String(record.id)), el("td", {}, when(record.recorded_at).slice(0, 16)),
        el("td", { class: "mono" }, record.channel_id), el("td", {}, record.key_area_zh), el("td", {}, t(`mode.${record.mode}`)),
        el("td", { class: record.outcome === "compliant" ? "ok" : "bad" }, t(`answer.${record.outcome}`)),
        el("td", {}, record.signed_by.display_name)))))
        : el("p", { class: "muted" }, t("mr.none")),
      el("p", {}, el("a", { href: `#/records?farm=${id}`, id: "farm-records-all" }, t("farm.allRecords"))));
  }

  // -- a camera's picture diagnosis (issue 11 item 5) ---------------------------------------
  function failureNames(failures) { return failures.map((kind) => t(`fault.kind.${kind}`)).join("、"); }
  function when(iso) { return iso.slice(0, 19).replace("T", " "); }

  function verdict(state) {
    if (!state) return el("span", { class: "muted" }, t("diag.never"));
    const text = state.last_outcome === "unavailable" && !state.failed ? t("diag.unavailable")
      : state.failed ? failureNames(state.failures) : t("diag.passed");
    return el("span", { class: state.failed ? "bad" : state.last_outcome === "unavailable" ? "muted" : "ok",
      title: `${t("diag.sampledAt")} ${when(state.last_sampled_at)}` }, text,
    el("small", { class: "muted" }, ` ${when(state.last_sampled_at).slice(5, 16)}`));
  }

  function historyTable(samples) {
    if (!samples.length) return el("p", { class: "muted" }, t("diag.noHistory"));
    const number = (value, digits) => (value === null || value === undefined ? "—" : value.toFixed(digits));
    return el("table", { class: "diag-history" }, el("thead", {}, el("tr", {},
      [t("diag.sampledAt"), t("diag.result"), t("diag.luma"), t("diag.contrast"), t("diag.sharpness"), t("diag.change")].map((head) => el("th", {}, head)))),
    el("tbody", {}, samples.map((sample) => {
      const m = sample.measurements || {};
      const result = sample.outcome === "failed" ? failureNames(sample.failures)
        : sample.outcome === "passed" ? t("diag.passed") : `${t("diag.unavailable")}${sample.detail ? `（${sample.detail}）` : ""}`;
      return el("tr", { dataset: { outcome: sample.outcome } }, el("td", {}, when(sample.sampled_at)),
        el("td", { class: sample.outcome === "failed" ? "bad" : sample.outcome === "passed" ? "ok" : "muted" }, result),
        el("td", {}, number(m.mean_luma, 1)), el("td", {}, number(m.luma_std, 1)),
        el("td", {}, number(m.sharpness, 3)), el("td", {}, number(m.difference, 3)));
    })));
  }

  function cameraRows(camera, state) {
    const cell = el("td", { class: "diag-state" }, verdict(state));
    const detail = el("tr", { class: "diag-detail", hidden: true, dataset: { channel: camera.channel_id } });
    const detailCell = el("td", { colspan: "9" });
    detail.append(detailCell);
    async function showHistory() {
      const found = await api("GET", `/api/channels/${encodeURIComponent(camera.channel_id)}/diagnosis?limit=20`);
      clear(cell).append(verdict(found.state));
      clear(detailCell).append(el("h4", {}, `${t("diag.history")} · ${camera.name || camera.channel_id}`), historyTable(found.history));
    }
    const toggle = el("button", { type: "button", class: "diag-toggle", onclick: async () => {
      if (!detail.hidden) { detail.hidden = true; return; }
      try { await showHistory(); detail.hidden = false; } catch (error) { say(error.message, true); }
    } }, t("diag.history"));
    const sampleNow = isAdmin ? el("button", { type: "button", class: "diag-now", onclick: async (event) => {
      const button = event.currentTarget;
      button.disabled = true;
      say(t("diag.sampling"));
      try {
        await api("POST", `/api/channels/${encodeURIComponent(camera.channel_id)}/diagnosis`);
        await showHistory();
        detail.hidden = false;
        say(t("diag.sampled"));
      } catch (error) { say(error.message, true); } finally { button.disabled = false; }
    } }, t("diag.now")) : null;
    return [el("tr", { dataset: { channel: camera.channel_id } },
      el("td", {}, camera.name || ""), el("td", { class: "mono" }, camera.channel_id),
      el("td", { class: camera.online ? "ok" : "bad" }, camera.online ? t("online") : t("offline")),
      el("td", {}, label(choiceOf(choices.key_areas, camera.key_area)) || t("area.none")), el("td", {}, camera.location || ""),
      el("td", {}, camera.model || ""), el("td", {}, label(choiceOf(choices.access_methods, camera.access_method))),
      cell, el("td", { class: "actions" }, toggle, sampleNow)), detail];
  }

  (async () => {
    try {
      const [{ choices: offered }, tree] = await Promise.all([api("GET", "/api/farms"), api("GET", "/api/tree")]);
      choices = offered;
      organisations = new Map(tree.organisations.map((org) => [org.id, org.name]));
      const id = wanted();
      if (id) await showFarm(id); else await showList();
    } catch (error) { say(error.message, true); }
  })();
}
