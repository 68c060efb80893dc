// The console's shell: who is signed in, the menu (administration pages only for
// administrators: the API refuses them to monitors anyway), the language switch and a
// hash router that mounts one page module at a time.

import { startAlarmBell } from "./alarms.js";
import { startAnomalyBell } from "./anomaly-bell.js";
import { api, setCsrfToken, toLogin } from "./api.js";
import { el, clear } from "./dom.js";
import { currentLanguage, setLanguage, t, translateStatic } from "./i18n.js";

// A page with `first` leads the menu (and is the landing page) for that role: the overview
// for administrators; monitors keep the live view first and find the overview after spot checks.
const PAGES = [
  { name: "live", admin: false, load: () => import("./live.js") },
  { name: "playback", admin: false, load: () => import("./playback.js") },
  { name: "records", admin: false, load: () => import("./records.js") },
  { name: "farms", admin: false, load: () => import("./farms.js") },
  { name: "faults", admin: false, load: () => import("./faults.js") },
  { name: "anomalies", admin: false, load: () => import("./anomalies.js") },
  { name: "alarms", admin: false, load: () => import("./alarms.js") },
  { name: "spotchecks", admin: false, load: () => import("./spotchecks.js") },
  { name: "overview", admin: false, first: "administrator", load: () => import("./overview.js") },
  { name: "devices", admin: true, load: () => import("./devices.js") },
  { name: "users", admin: true, load: () => import("./users.js") },
  { name: "audit", admin: true, load: () => import("./audit.js") },
];

const context = { me: null };
let unmount = null;

function allowedPages() {
  const admin = context.me && context.me.role === "administrator";
  const role = context.me ? context.me.role : null;
  const pages = PAGES.filter((page) => admin || !page.admin);
  return [...pages.filter((page) => page.first === role), ...pages.filter((page) => page.first !== role)];
}

function currentPage() {
  const wanted = location.hash.replace(/^#\/?/, "").split("?")[0];
  const pages = allowedPages();
  return pages.find((page) => page.name === wanted) || pages[0];
}

function renderHeader() {
  translateStatic();
  document.title = `${t("brand")} — farmwatch`;
  const nav = clear(document.getElementById("nav"));
  const page = currentPage();
  for (const entry of allowedPages()) {
    nav.append(el("a", {
      href: `#/${entry.name}`, id: `nav-${entry.name}`,
      class: entry === page ? "current" : undefined,
    }, t(`nav.${entry.name}`)));
  }
  const me = context.me;
  const organisation = me.organisation ? me.organisation.name : "";
  document.getElementById("who").textContent =
    `${me.display_name || me.username} · ${t(`role.${me.role}`)}${organisation ? ` · ${organisation}` : ""}`;
  document.getElementById("language").textContent = t("language");
}

// Each route() call; a page whose module arrives after a newer route() is not mounted
// (two pages would otherwise share the screen and play twice).
let routing = 0;

async function route() {
  const current = ++routing;
  if (unmount) { unmount(); unmount = null; }
  renderHeader();
  const page = currentPage();
  const container = clear(document.getElementById("page"));
  container.className = `page-${page.name}`;
  try {
    const module = await page.load();
    if (current !== routing) return;
    unmount = module.mount(container, context) || null;
  } catch (error) {
    if (current === routing) container.append(el("p", { class: "state error" }, error.message));
  }
}

async function start() {
  try {
    context.me = await api("GET", "/api/me");
  } catch (error) {
    if (error.status !== 401) document.getElementById("page").textContent = error.message;
    return;
  }
  setCsrfToken(context.me.csrf_token);
  setLanguage(currentLanguage());
  startAlarmBell(document.getElementById("alarms"));
  // Administrators of the farm's organisation and above are told of each new anomaly.
  if (context.me.role === "administrator") startAnomalyBell(document.getElementById("anomaly-notice"));
  document.getElementById("language").addEventListener("click", () => {
    setLanguage(currentLanguage() === "zh" ? "en" : "zh");
    route();
  });
  document.getElementById("logout").addEventListener("click", async () => {
    if (unmount) { unmount(); unmount = null; }
    try { await api("POST", "/api/logout"); } catch { /* ended already */ }
    toLogin();
  });
  window.addEventListener("hashchange", route);
  await route();
}

start();
