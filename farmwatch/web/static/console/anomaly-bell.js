// The administrators' anomaly notice in the header: a long poll of /api/anomalies/events
// (answered as soon as an anomaly of a farm within their reach is reported), the count of
// those reported since the page opened, and a click to the anomalies page.

import { api } from "./api.js";
import { el } from "./dom.js";
import { t } from "./i18n.js";

const WAIT_SECONDS = 25;

export function startAnomalyBell(container) {
  const count = el("span", { class: "alarm-count", id: "anomaly-count" }, "0");
  const bell = el("button", { type: "button", id: "anomaly-bell", class: "alarm-bell",
    title: t("an.bell"), onclick: () => { location.hash = "#/anomalies"; reset(); } }, t("an.bell"), count);
  container.append(bell);
  let seen = 0;
  let stopped = false;
  let since = null;

  function reset() { seen = 0; render(); }
  function render() {
    count.textContent = String(seen);
    bell.classList.toggle("ringing", seen > 0);
  }

  async function poll() {
    while (!stopped) {
      try {
        const query = since === null ? `wait=0` : `since_id=${since}&wait=${WAIT_SECONDS}`;
        const answer = await api("GET", `/api/anomalies/events?${query}`);
        if (since !== null && answer.anomalies.length) {
          seen += answer.anomalies.length;
          render();
          window.dispatchEvent(new CustomEvent("farmwatch:anomalies", { detail: answer.anomalies }));
        }
        since = answer.next_id;
      } catch (error) {
        if (error.status === 401 || error.status === 403) return;
        await new Promise((resolve) => setTimeout(resolve, 5000));  // the platform is restarting
      }
    }
  }
  render();
  poll();
  return () => { stopped = true; };
}
