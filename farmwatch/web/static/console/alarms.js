// The alarm bell in the header: a long poll of /api/alarms/events (the platform answers as
// soon as an alarm the signed-in person may see is stored, or after `wait` seconds with
// none), the count of alarms not yet acknowledged, and a list to acknowledge them from.

import { api } from "./api.js";
import { clock, el, clear } from "./dom.js";
import { t } from "./i18n.js";

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
        el("strong", {}, alarm.description || t("alarm.title")),
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
