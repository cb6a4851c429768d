// The workbench: sign in with an API token, then a hash router over the views. Everything it
// does goes through the public REST API and /ws, with the user's own token.

import { Api, ApiError } from "./api.js";
import { fill, h, say } from "./dom.js";
import { EventFeed } from "./events.js";
import { opsView } from "./ops.js";
import { projectView, projectsView } from "./projects.js";
import { resultView } from "./result.js";
import { reviewView } from "./review.js";

/** @typedef {{api: Api, me: {userId: string, role: string}, main: HTMLElement,
 *   onEvent: (f: (event: any) => void) => void, onKey: (f: (e: KeyboardEvent) => void) => void,
 *   onLeave: (f: () => void) => void}} Context */

const TOKEN = "dubbing.token";
const main = /** @type {HTMLElement} */ (document.getElementById("main"));
/** @type {Set<(event: any) => void>} */
const listeners = new Set();
/** @type {Set<(e: KeyboardEvent) => void>} */
const keys = new Set();
/** @type {Set<() => void>} */
const leaving = new Set();
/** @type {{api: Api, me: any, feed: EventFeed} | null} */
let session = null;

function signInView(/** @type {string} */ message = "") {
  const token = h("input", { type: "password", id: "token", autocomplete: "off", required: true });
  const form = h("form", { class: "sign-in" },
    h("h2", {}, "Sign in"),
    h("label", { for: "token" }, "API token"), token,
    h("button", { type: "submit" }, "Sign in"),
    message ? h("p", { class: "error", role: "alert" }, message) : null);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const started = await start(token.value.trim());
    if (started) route();
  });
  fill(main, form);
  token.focus();
}

/** Check the token (GET /api/me), keep it, open the live feed. @param {string} token */
async function start(token) {
  const api = new Api(token);
  let me;
  try {
    me = await api.get("/api/me");
  } catch (err) {
    localStorage.removeItem(TOKEN);
    signInView(err instanceof ApiError ? err.message : String(err));
    return false;
  }
  localStorage.setItem(TOKEN, token);
  const live = /** @type {HTMLElement} */ (document.getElementById("live"));
  const feed = new EventFeed(token, (event) => listeners.forEach((f) => f(event)), (state) => {
    live.textContent = `events: ${state}`;
    live.dataset.state = state;
  });
  feed.start();
  session = { api, me, feed };
  /** @type {HTMLElement} */ (document.getElementById("who")).textContent = `${me.userId} (${me.role})`;
  /** @type {HTMLElement} */ (document.getElementById("nav-ops")).hidden = me.role !== "admin";
  /** @type {HTMLElement} */ (document.getElementById("sign-out")).hidden = false;
  Object.assign(globalThis, { workbench: session });
  return true;
}

function signOut() {
  session?.feed.stop();
  session = null;
  localStorage.removeItem(TOKEN);
  /** @type {HTMLElement} */ (document.getElementById("who")).textContent = "";
  /** @type {HTMLElement} */ (document.getElementById("nav-ops")).hidden = true;
  /** @type {HTMLElement} */ (document.getElementById("sign-out")).hidden = true;
  location.hash = "";
  signInView();
}

async function route() {
  leaving.forEach((f) => f());
  listeners.clear();
  keys.clear();
  leaving.clear();
  if (!session) return signInView();
  /** @type {Context} */
  const ctx = {
    api: session.api,
    me: session.me,
    main,
    onEvent: (f) => listeners.add(f),
    onKey: (f) => keys.add(f),
    onLeave: (f) => leaving.add(f),
  };
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  try {
    if (parts[0] === "projects" && parts[1] && parts[2] === "review" && (parts[3] === "transcript" || parts[3] === "translation"))
      await reviewView(ctx, parts[1], parts[3]);
    else if (parts[0] === "projects" && parts[1] && parts[2] === "result") await resultView(ctx, parts[1]);
    else if (parts[0] === "projects" && parts[1]) await projectView(ctx, parts[1]);
    else if (parts[0] === "ops") await opsView(ctx);
    else await projectsView(ctx);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return signOut();
    fill(main, h("h2", {}, "Error"), h("p", { class: "error", role: "alert" }, err instanceof Error ? err.message : String(err)));
  }
  const heading = main.querySelector("h2");
  if (heading) document.title = `${heading.textContent} · Dubbing workbench`;
  main.focus({ preventScroll: true });
}

document.addEventListener("keydown", (e) => keys.forEach((f) => f(e)));
window.addEventListener("hashchange", () => route());
/** @type {HTMLElement} */ (document.getElementById("sign-out")).addEventListener("click", signOut);
const kept = localStorage.getItem(TOKEN);
if (kept && (await start(kept))) route();
else if (!kept) signInView();
say("");
