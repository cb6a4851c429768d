// The projects list (live from /ws), creating a project by upload, and one project's page.

import { ApiError, idempotencyKey } from "./api.js";
import { fill, h, say } from "./dom.js";
import { REVIEWED, applyEvent, describeStage, fromApi, stagesOf } from "./state.js";

/** @typedef {import("./app.js").Context} Context */
/** @typedef {import("./state.js").ProjectState} ProjectState */

/** A stage's cell: its state in words and a progress bar. @param {ProjectState} p @param {string} stage */
function stageCell(p, stage) {
  const s = p.stages[stage];
  const label = `${stage} of ${p.id}`;
  return h(
    "td",
    { "data-stage": stage, "data-status": s.review ? "review" : s.status },
    h("span", { class: "stage-text" }, describeStage(s)),
    s.status === "active" || s.status === "waiting"
      ? h("progress", { max: 100, value: s.progress ?? 0, "aria-label": label })
      : null,
  );
}

/** @param {Context} ctx */
export async function projectsView(ctx) {
  const main = ctx.main;
  /** @type {Map<string, ProjectState>} */
  const projects = new Map();
  const body = h("tbody");
  const table = h(
    "table",
    { class: "projects" },
    h("caption", {}, "Your projects, newest first; stages update live"),
    h(
      "thead",
      {},
      h("tr", {}, h("th", { scope: "col" }, "Project"), h("th", { scope: "col" }, "Languages"),
        ...["STT", "MT", "TTS", "MUXING"].map((s) => h("th", { scope: "col" }, s))),
    ),
    body,
  );
  const row = (/** @type {ProjectState} */ p) =>
    h(
      "tr",
      { id: `project-${p.id}` },
      h("th", { scope: "row" }, h("a", { href: `#/projects/${p.id}` }, p.id)),
      h("td", {}, `${p.sourceLanguage} → ${p.targetLanguage}`),
      ...["STT", "MT", "TTS", "MUXING"].map((s) => stageCell(p, s)),
    );
  const render = () => fill(body, [...projects.values()].map(row));

  const load = async () => {
    const list = await ctx.api.get("/api/projects");
    projects.clear();
    for (const out of list.projects) projects.set(out.id, fromApi(out));
    render();
  };
  ctx.onEvent((event) => {
    const known = projects.get(event.projectId);
    if (!known) {
      if (event.type === "job_created") load().catch(() => {});
      return;
    }
    projects.set(known.id, applyEvent(known, event));
    document.getElementById(`project-${known.id}`)?.replaceWith(row(projects.get(known.id) ?? known));
  });

  fill(main, h("h2", {}, "Projects"), createForm(ctx), table);
  await load();
}

/** Upload a video (POST /api/uploads), then create its project (POST /api/projects).
 * @param {Context} ctx */
function createForm(ctx) {
  const file = h("input", { type: "file", id: "video", name: "video", accept: "video/*", required: true });
  const source = h("input", { id: "source", name: "source", value: "auto", size: 6, required: true });
  const target = h("input", { id: "target", name: "target", value: "es", size: 6, required: true });
  const original = h("input", { type: "checkbox", id: "original", checked: true });
  const button = h("button", { type: "submit" }, "Upload and dub");
  const form = h(
    "form",
    { class: "create", "aria-labelledby": "create-title" },
    h("h3", { id: "create-title" }, "New project"),
    h("label", { for: "video" }, "Video"), file,
    h("label", { for: "source" }, "Spoken language (or auto)"), source,
    h("label", { for: "target" }, "Dub into"), target,
    h("label", { class: "inline" }, original, " Keep the original audio as a second track"),
    button,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const chosen = file.files?.[0];
    if (!chosen) return;
    button.disabled = true;
    try {
      say(`Uploading ${chosen.name}…`);
      const key = await ctx.api.upload(chosen, chosen.name);
      const body = {
        videoUrl: key,
        sourceLanguage: source.value.trim(),
        targetLanguage: target.value.trim(),
        originalTrack: original.checked,
      };
      const created = await ctx.api.post("/api/projects", body, idempotencyKey());
      say(`Project ${created.project.id} created: transcription started`);
      location.hash = `#/projects/${created.project.id}`;
    } catch (err) {
      say(err instanceof ApiError ? err.message : String(err), "error");
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

/** One project: its stages live, and where a person acts next. @param {Context} ctx @param {string} id */
export async function projectView(ctx, id) {
  let out;
  try {
    out = await ctx.api.get(`/api/projects/${encodeURIComponent(id)}`);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return notFound(ctx, err);
    throw err;
  }
  let state = fromApi(out);
  const stages = h("ol", { class: "stages", "aria-label": "Stages" });
  const actions = h("p", { class: "actions" });
  const render = () => {
    fill(
      stages,
      stagesOf(state).map((stage) => {
        const s = state.stages[stage];
        return h(
          "li",
          { "data-stage": stage, "data-status": s.review ? "review" : s.status },
          h("strong", {}, stage), " ", h("span", { class: "stage-text" }, describeStage(s)),
          s.status === "active" || s.status === "waiting"
            ? h("progress", { max: 100, value: s.progress ?? 0, "aria-label": `${stage} progress` })
            : null,
        );
      }),
    );
    const links = [];
    for (const [stage, name] of Object.entries(REVIEWED)) {
      const s = state.stages[stage];
      if (s && s.status === "completed")
        links.push(h("a", { href: `#/projects/${id}/review/${name}`, class: "button" }, `Review ${name}`));
    }
    if (state.completed || state.stages.MUXING?.status === "completed")
      links.push(h("a", { href: `#/projects/${id}/result`, class: "button" }, "Result"));
    fill(actions, links);
  };
  ctx.onEvent((event) => {
    if (event.projectId !== id) return;
    state = applyEvent(state, event);
    render();
  });
  fill(
    ctx.main,
    h("h2", {}, `Project ${id}`),
    h("p", {}, `${out.sourceLanguage} → ${out.targetLanguage}`, out.premium ? " · premium" : ""),
    stages,
    actions,
  );
  render();
}

/** What the API said, as it said it: another user's project is "not found" like a missing one.
 * @param {Context} ctx @param {ApiError} err */
export function notFound(ctx, err) {
  fill(ctx.main, h("h2", {}, "Not found"), h("p", { class: "error", role: "alert" }, err.message));
}
