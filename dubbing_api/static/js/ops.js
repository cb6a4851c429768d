// Operations (admin): each stage's queue with pause/resume and clean, and the dead letter queue
// with retry. Refreshed after every action, on events, and every few seconds.

import { ApiError, idempotencyKey } from "./api.js";
import { fill, h, say } from "./dom.js";

/** @typedef {import("./app.js").Context} Context */

const REFRESH_MS = 3000;

/** @param {Context} ctx */
export async function opsView(ctx) {
  if (ctx.me.role !== "admin") {
    fill(ctx.main, h("h2", {}, "Operations"), h("p", { role: "alert" }, "this needs the role admin"));
    return;
  }
  const queues = h("tbody");
  const letters = h("tbody");
  /** @param {() => Promise<unknown>} action @param {string} done */
  const act = async (action, done) => {
    try {
      await action();
      say(done);
    } catch (err) {
      say(err instanceof ApiError ? err.message : String(err), "error");
    }
    await refresh();
  };
  const refresh = async () => {
    const [stats, dead] = await Promise.all([
      ctx.api.get("/api/queue/stats"),
      ctx.api.get("/api/queue/dead-letter/jobs"),
    ]);
    fill(queues, stats.queues.map((/** @type {any} */ q) => h("tr", { "data-queue": q.queue },
      h("th", { scope: "row" }, q.queue),
      ...["waiting", "active", "delayed", "completed", "failed", "paused"].map((k) => h("td", {}, q[k])),
      h("td", {}, q.isPaused ? "paused" : "running"),
      h("td", {},
        h("button", {
          type: "button",
          onclick: () => act(() => ctx.api.post(`/api/queue/${q.queue}/${q.isPaused ? "resume" : "pause"}`),
            `${q.queue} ${q.isPaused ? "resumed" : "paused"}`),
        }, `${q.isPaused ? "Resume" : "Pause"} ${q.queue}`),
        " ",
        h("button", {
          type: "button",
          onclick: () => act(() => ctx.api.post(`/api/queue/${q.queue}/clean`, {}, idempotencyKey()), `${q.queue}: clean started`),
        }, `Clean ${q.queue}`)))));
    fill(letters, dead.jobs.length
      ? dead.jobs.map((/** @type {any} */ j) => h("tr", { "data-job": j.jobId },
          h("td", {}, j.projectId), h("td", {}, j.userId), h("td", {}, j.stage), h("td", {}, j.errorType),
          h("td", {}, j.message), h("td", {}, j.attempts), h("td", {}, j.state),
          h("td", {}, h("button", {
            type: "button",
            disabled: j.state !== "open",
            onclick: () => act(() => ctx.api.post(`/api/queue/dead-letter/${j.jobId}/retry`, undefined, idempotencyKey()),
              `retry of ${j.stage} for ${j.projectId} asked for`),
          }, `Retry ${j.stage} of ${j.projectId}`))))
      : h("tr", {}, h("td", { colspan: 8 }, "The dead letter queue is empty")));
  };
  const head = (/** @type {string[]} */ names) => h("thead", {}, h("tr", {}, names.map((n) => h("th", { scope: "col" }, n))));
  fill(
    ctx.main,
    h("h2", {}, "Operations"),
    h("table", { class: "queues" }, h("caption", {}, "Queues by stage"),
      head(["Queue", "Waiting", "Active", "Delayed", "Completed", "Failed", "Paused jobs", "State", "Actions"]), queues),
    h("table", { class: "dead-letters" }, h("caption", {}, "Dead letter queue"),
      head(["Project", "User", "Stage", "Error", "Message", "Attempts", "State", "Action"]), letters),
  );
  await refresh();
  const timer = setInterval(() => refresh().catch(() => {}), REFRESH_MS);
  ctx.onLeave(() => clearInterval(timer));
  ctx.onEvent((e) => {
    if (e.type === "job_failed" || e.type === "job_created") refresh().catch(() => {});
  });
}
