// 报警: the alarm bell in the header — a long poll of /api/alarms/events (the platform
// answers as soon as an alarm the signed-in person may see is stored, or after `wait`
// seconds with none), the count of alarms not yet acknowledged, and a list to acknowledge
// them from — and the alarms page (报警记录): every alarm in view with its level, method
// and state, and each one's evidence clip ([supervision] alarm_evidence): its state
// (saving, saved, failed, none), and once saved the MP4 played in the page, its download
// and 校验, the platform hashing the file again against the SHA-256 it recorded.

import { api } from "./api.js";
import { clock, el, clear } from "./dom.js";
import { t } from "./i18n.js";
import { camerasOf, loadTree } from "./tree.js";

const WAIT_SECONDS = 25;
const KEEP = 50;

export function startAlarmBell(container) {
  const count = el("span", { class: "alarm-count", id: "alarm-count" }, "0");
  const list = el("ul", { class: "alarm-list", id: "alarm-list", hidden: true });
  const bell = el("button", { type: "button", id: "alarm-bell", class: "alarm-bell", title: t("alarm.title"),
    onclick: () => { list.hidden = !list.hidden; } }, t("alarm.title"), count);
  container.append(bell, list);
  const alarms = [];
  let stopped = false;
  let since = null;

  function render() {
    const open = alarms.filter((alarm) => alarm.state === "new");
    count.textContent = String(open.length);
    bell.classList.toggle("ringing", open.length > 0);
    clear(list);
    if (!alarms.length) list.append(el("li", { class: "muted" }, t("alarm.none")));
    for (const alarm of alarms) {
      const ack = alarm.state === "new" ? el("button", { type: "button", class: "alarm-ack", onclick: async (event) => {
        event.stopPropagation();
        try {
          Object.assign(alarm, await api("POST", `/api/alarms/${alarm.id}/ack`, {}));
        } catch (error) {
          alarm.error = error.message;
        }
        render();
      } }, t("alarm.ack")) : el("span", { class: "muted" }, t(`alarm.state.${alarm.state}`));
      list.append(el("li", { dataset: { alarm: String(alarm.id), state: alarm.state } },
        el("span", {}, `${clock(new Date(alarm.received_at))} `),
        el("a", { href: `#/alarms?id=${alarm.id}`, title: t("alarm.open"), onclick: () => { list.hidden = true; } },
          el("strong", {}, alarm.description || t("alarm.title"))),
        el("span", { class: "muted" }, ` ${alarm.channel_id} `), ack,
        alarm.error ? el("span", { class: "error" }, alarm.error) : null));
    }
  }

  async function poll() {
    while (!stopped) {
      try {
        const query = since === null ? `wait=${WAIT_SECONDS}` : `since_id=${since}&wait=${WAIT_SECONDS}`;
        const answer = await api("GET", `/api/alarms/events?${query}`);
        since = answer.next_id;
        if (answer.alarms.length) {
          alarms.unshift(...answer.alarms.reverse());
          alarms.length = Math.min(alarms.length, KEEP);
          render();
          window.dispatchEvent(new CustomEvent("farmwatch:alarms"));  // the alarms page, if open
        }
      } catch (error) {
        if (error.status === 401 || error.status === 403) return;
        await new Promise((resolve) => setTimeout(resolve, 5000));  // the platform is restarting
      }
    }
  }

  // The feed's cursor first (an answer at once), then the alarms up to it not yet
  // acknowledged: one stored between the two requests is the feed's, none is missed and none
  // shows twice. (Listing first and polling "from now" lost an alarm stored in between.)
  async function start() {
    try {
      since = (await api("GET", "/api/alarms/events?wait=0")).next_id;
      const answer = await api("GET", "/api/alarms?state=new&limit=20");
      alarms.push(...answer.alarms.filter((alarm) => alarm.id <= since));
    } catch (error) {
      if (error.status === 401 || error.status === 403) return;
    }
    render();
    poll();
  }
  start();
  return () => { stopped = true; };
}

// -- the alarms page ----------------------------------------------------------------------

const PAGE = 50;
const POLL_MS = 5000;
// An alarm is stored a moment before its clip is begun (and shown pending): the page looks
// again while an alarm without a clip is this recent.
const CLIP_MAY_COME_MS = 60_000;
const STATES = ["new", "acknowledged", "reset"];

/** The regulation's word for a level or method, the number itself when there is none
 * (a device may send another), nothing when the device sent none. */
function word(prefix, value) {
  if (value === null || value === undefined) return "";
  const key = `${prefix}.${value}`;
  const text = t(key);
  return text === key ? String(value) : text;
}

/** The evidence clip's state of an alarm: pending, ready, failed or none. */
function clipState(alarm) { return alarm.clip_state || "none"; }

function clipBadge(alarm) {
  const state = clipState(alarm);
  const hint = { none: "clip.noneHint", failed: "clip.failedHint" }[state];
  return el("span", { class: `clip-state evidence-${state}`, dataset: { clipState: state },
    title: hint ? t(hint) : undefined }, t(`clip.${state}`));
}

export function mount(container, { me }) {
  const admin = me.role === "administrator";
  let selected = Number(new URLSearchParams(location.hash.split("?")[1] || "").get("id")) || null;
  let shown = [];
  let limit = PAGE;
  let timer = null;
  let detailKey = "";
  let names = new Map();  // channel or device ID → its name, from the tree
  const verdicts = new Map();  // alarm id → the verify answer (kept across re-renders)
  const stateSelect = el("select", { id: "al-filter", onchange: () => { limit = PAGE; load(); } },
    el("option", { value: "" }, t("al.all")), STATES.map((state) => el("option", { value: state }, t(`alarm.state.${state}`))));
  const body = el("tbody", { id: "al-rows" });
  const more = el("button", { type: "button", id: "al-more", hidden: true, onclick: () => { limit += PAGE; load(); } }, t("al.more"));
  const message = el("p", { class: "state error", id: "al-error" });
  const detail = el("div", { class: "anomaly-detail alarm-detail", id: "al-detail" }, el("p", { class: "muted" }, t("al.pick")));
  container.append(el("section", { class: "anomalies-page alarms-page" },
    el("div", { class: "toolbar" }, el("strong", {}, t("al.list")),
      el("label", {}, t("al.filterState"), stateSelect),
      el("button", { type: "button", id: "al-refresh", onclick: () => load() }, "↻")),
    el("table", { class: "anomalies alarms", id: "al-table" },
      el("thead", {}, el("tr", {}, ["al.id", "al.time", "al.source", "al.priority", "al.method", "al.description",
        "al.state", "al.clip"].map((key) => el("th", {}, t(key))))), body),
    more, message, detail));

  const source = (alarm) => names.get(alarm.channel_id) || alarm.channel_id;
  // The API's times carry their offset: shown in the browser's zone, as the bell does.
  const at = (iso) => clock(new Date(iso));
  const when = (alarm) => at(alarm.time || alarm.received_at);

  async function load() {
    clearTimeout(timer);
    const query = new URLSearchParams({ limit: String(limit) });
    if (stateSelect.value) query.set("state", stateSelect.value);
    try {
      const answer = await api("GET", `/api/alarms?${query}`);
      shown = answer.alarms;
      more.hidden = answer.next_offset === null;
      message.textContent = "";
    } catch (error) { message.textContent = error.message; return; }
    clear(body);
    for (const alarm of shown) {
      body.append(el("tr", { class: alarm.id === selected ? "selected" : undefined,
        dataset: { alarm: String(alarm.id), state: alarm.state, clipState: clipState(alarm) }, onclick: () => pick(alarm.id) },
        el("td", {}, `#${alarm.id}`), el("td", {}, when(alarm)),
        el("td", { title: alarm.channel_id }, source(alarm)),
        el("td", {}, word("al.priority", alarm.priority)), el("td", {}, word("al.method", alarm.method)),
        el("td", {}, alarm.description || ""), el("td", {}, t(`alarm.state.${alarm.state}`)),
        el("td", {}, clipBadge(alarm))));
    }
    if (!shown.length) body.append(el("tr", {}, el("td", { colspan: "8", class: "muted" }, t("al.none"))));
    const current = shown.find((alarm) => alarm.id === selected);
    if (current) showDetail(current);
    else if (selected) fetchOne(selected);
    const now = Date.now();
    const waiting = shown.some((alarm) => alarm.clip_state === "pending" ||
      (alarm.clip_state === null && now - new Date(alarm.received_at).getTime() < CLIP_MAY_COME_MS));
    if (waiting) timer = setTimeout(load, POLL_MS);
  }

  // An alarm asked for by its ID (a link from the bell) that the list's page does not hold.
  async function fetchOne(id) {
    try {
      const answer = await api("GET", `/api/alarms?limit=${PAGE * 10}`);
      const alarm = answer.alarms.find((one) => one.id === id);
      if (alarm && id === selected) showDetail(alarm);
    } catch (error) { message.textContent = error.message; }
  }

  function pick(id) {
    selected = id;
    body.querySelectorAll("tr").forEach((row) => row.classList.toggle("selected", row.dataset.alarm === String(id)));
    const alarm = shown.find((one) => one.id === id);
    if (alarm) showDetail(alarm);
  }

  async function act(path) {
    try {
      await api("POST", path, {});
      message.textContent = "";
    } catch (error) { message.textContent = error.message; }
    detailKey = "";
    await load();
  }

  function evidence(alarm) {
    const state = clipState(alarm);
    const heading = el("h4", {}, `${t("al.clip")} · `, clipBadge(alarm));
    if (state !== "ready") {
      const hint = { none: "clip.noneHint", failed: "clip.failedHint" }[state];
      return [heading, hint ? el("p", { class: "muted", id: "al-clip-hint" }, t(hint)) : null];
    }
    const file = `/api/alarms/${alarm.id}/clip/file`;
    const result = el("span", { class: "verify-result", id: "al-verify-result" });
    const hash = el("div", { class: "mono sha", id: "al-sha" });
    const showAnswer = (answer) => {
      result.className = `verify-result ${answer.valid ? "ok" : "bad"}`;
      result.dataset.valid = String(answer.valid);
      result.textContent = answer.valid ? t("an.valid") : `${t("an.invalid")} (${answer.detail})`;
      hash.dataset.sha256 = answer.sha256 || "";
      hash.textContent = `SHA-256 ${answer.sha256 || ""}`;
    };
    if (verdicts.has(alarm.id)) showAnswer(verdicts.get(alarm.id));
    const verify = el("button", { type: "button", class: "verify", id: "al-verify", onclick: async () => {
      result.className = "verify-result muted";
      result.textContent = "…";
      try {
        const answer = await api("GET", `/api/alarms/${alarm.id}/clip/verify`);
        verdicts.set(alarm.id, answer);
        showAnswer(answer);
      } catch (error) { result.className = "verify-result bad"; result.textContent = error.message; }
    } }, t("an.verify"));
    return [heading,
      el("video", { controls: true, preload: "metadata", src: file, class: "evidence-video", id: "al-video" }),
      el("div", { class: "toolbar" },
        el("a", { href: file, download: `alarm-${alarm.id}.mp4`, class: "download", id: "al-download" }, t("an.download")),
        verify, result),
      hash];
  }

  // Re-drawn only when something shown changed: a list refresh must not restart the player.
  function showDetail(alarm) {
    const key = JSON.stringify([alarm.id, alarm.state, alarm.clip_state, alarm.clip_id, alarm.acknowledged, alarm.reset]);
    if (key === detailKey) return;
    detailKey = key;
    const ack = alarm.acknowledged;
    const reset = alarm.reset;
    clear(detail).append(el("div", { dataset: { alarm: String(alarm.id) } },
      el("h3", {}, `#${alarm.id} ${alarm.description || t("alarm.title")} `,
        el("span", { class: `badge alarm-${alarm.state}`, id: "al-state" }, t(`alarm.state.${alarm.state}`))),
      el("dl", { class: "facts" },
        el("dt", {}, t("al.source")), el("dd", {}, `${source(alarm)} `, el("span", { class: "mono muted" }, alarm.channel_id)),
        el("dt", {}, t("al.device")), el("dd", { class: "mono" }, alarm.device_id),
        el("dt", {}, t("al.time")), el("dd", {}, when(alarm)),
        el("dt", {}, t("al.received")), el("dd", {}, at(alarm.received_at)),
        el("dt", {}, t("al.priority")), el("dd", {}, word("al.priority", alarm.priority)),
        el("dt", {}, t("al.method")), el("dd", {}, word("al.method", alarm.method)),
        alarm.type ? [el("dt", {}, t("al.type")), el("dd", {}, String(alarm.type))] : null,
        ack ? [el("dt", {}, t("al.ackBy")), el("dd", {}, `${ack.by} ${at(ack.at)}${ack.note ? ` — ${ack.note}` : ""}`)] : null,
        reset ? [el("dt", {}, t("al.resetBy")), el("dd", {}, `${reset.by} ${at(reset.at)} ${reset.result || ""}`)] : null),
      el("div", { class: "toolbar" },
        alarm.state === "new" ? el("button", { type: "button", id: "al-ack", onclick: () => act(`/api/alarms/${alarm.id}/ack`) }, t("alarm.ack")) : null,
        admin && alarm.state !== "reset" ? el("button", { type: "button", id: "al-reset", onclick: () => act(`/api/alarms/${alarm.id}/reset`) }, t("al.reset")) : null),
      evidence(alarm)));
  }

  const fresh = () => load();
  window.addEventListener("farmwatch:alarms", fresh);
  loadTree().then((tree) => {
    names = new Map([...tree.devices.map((device) => [device.device_id, device.name || device.device_id]),
      ...camerasOf(tree).map((camera) => [camera.channel_id, camera.name || camera.channel_id])]);
    detailKey = "";
    load();
  }, () => load());
  return () => {
    clearTimeout(timer);
    window.removeEventListener("farmwatch:alarms", fresh);
  };
}
