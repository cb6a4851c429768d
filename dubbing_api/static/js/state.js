// What the page knows about projects and their stages, and how each event from /ws changes it.
// Pure functions (no DOM): tested with node's own test runner.

/** @typedef {"STT"|"MT"|"TTS"|"MUXING"|"LIP_SYNC"} StageName */
/** @typedef {{status: string, progress: number | null, review: boolean}} StageState */
/** @typedef {{id: string, premium: boolean, sourceLanguage: string, targetLanguage: string,
 *   createdAt: string, originalTrack?: boolean | null, completed: boolean,
 *   stages: Record<string, StageState>}} ProjectState */
/** @typedef {{id?: string | null, type: string, projectId: string, stage?: string | null,
 *   status?: string | null, progress?: number | null, message?: string | null,
 *   error?: string | null}} JobEvent */

/** @type {StageName[]} */
export const STAGES = ["STT", "MT", "TTS", "MUXING", "LIP_SYNC"];
export const REVIEWED = /** @type {const} */ ({ STT: "transcript", MT: "translation" });

/** The stages a project goes through (lip-sync only for premium). @param {{premium: boolean}} p */
export function stagesOf(p) {
  return p.premium ? STAGES : STAGES.filter((s) => s !== "LIP_SYNC");
}

/** A project as the API answers it, as page state.
 * @param {any} out  ProjectOut @returns {ProjectState} */
export function fromApi(out) {
  /** @type {Record<string, StageState>} */
  const stages = {};
  for (const stage of stagesOf(out)) {
    const status = out.stages?.[stage] ?? "pending";
    stages[stage] = { status, progress: status === "completed" ? 100 : null, review: false };
  }
  const last = stagesOf(out).at(-1) ?? "MUXING";
  return {
    id: out.id,
    premium: out.premium,
    sourceLanguage: out.sourceLanguage,
    targetLanguage: out.targetLanguage,
    createdAt: out.createdAt,
    originalTrack: out.originalTrack,
    completed: stages[last]?.status === "completed",
    stages,
  };
}

/** The project after one event (a new object; unknown projects and stages are left alone).
 * @param {ProjectState} project @param {JobEvent} event @returns {ProjectState} */
export function applyEvent(project, event) {
  if (event.projectId !== project.id) return project;
  if (event.type === "project_completed") return { ...project, completed: true };
  const stage = event.stage ?? "";
  const before = project.stages[stage];
  if (!before) return project;
  /** @type {StageState} */
  let after = before;
  switch (event.type) {
    case "job_created":
      after = { status: "waiting", progress: 0, review: false };
      break;
    case "job_started":
      after = { ...before, status: "active", progress: before.progress ?? 0 };
      break;
    case "job_progress":
      after = { ...before, status: "active", progress: event.progress ?? before.progress };
      break;
    case "job_completed":
      after = { ...before, status: "completed", progress: 100 };
      break;
    case "job_failed":
      after = { ...before, status: "failed" };
      break;
    case "stage_ready_for_review":
      after = { ...before, status: "completed", progress: 100, review: true };
      break;
    default:
      return project;
  }
  return { ...project, stages: { ...project.stages, [stage]: after } };
}

/** What a stage shows: "active 42 %", "ready for review", "completed".
 * @param {StageState} s */
export function describeStage(s) {
  if (s.review) return "ready for review";
  if (s.status === "active" && s.progress !== null) return `active ${s.progress} %`;
  return s.status;
}

/** Seconds as m:ss.s. @param {number} seconds */
export function clock(seconds) {
  const tenths = Math.round(seconds * 10);
  const m = Math.floor(tenths / 600);
  return `${m}:${((tenths - m * 600) / 10).toFixed(1).padStart(4, "0")}`;
}
