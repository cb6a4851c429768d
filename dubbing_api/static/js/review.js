// Review of the transcript or the translation: the source video, the segments as a table,
// edits kept as drafts until approved, approve or reject with a reason. Keyboard first:
//   ↓/↑ or j/k  move between segments      Enter or e  edit the segment's text
//   Esc         back to the row (draft kept) Alt+↓/Alt+↑ next/previous segment while editing
//   p or Space  play the segment            Ctrl+Enter  approve (with the edits)
//   r           write a rejection reason

import { ApiError, idempotencyKey } from "./api.js";
import { fill, h, say } from "./dom.js";
import { Drafts, editsFor } from "./drafts.js";
import { notFound } from "./projects.js";
import { clock } from "./state.js";
import { confidencePieces } from "./words.js";

/** @typedef {import("./app.js").Context} Context */
/** @typedef {{id: number, start: number, end: number, text: string, speaker: string,
 *   sourceText: string | null, words: {text: string, probability: number | null}[] | null,
 *   tempo?: number | null, atCap?: boolean | null, overflowSeconds?: number | null}} Segment */

export const KEYS_HELP =
  "Keys: ↓/↑ or j/k move between segments, Enter edits, Esc leaves the text, Alt+↓/↑ moves while " +
  "editing, p or Space plays the segment, Ctrl+Enter approves, r writes a rejection reason.";

/** @param {Context} ctx @param {string} id @param {"transcript" | "translation"} stage */
export async function reviewView(ctx, id, stage) {
  const path = `/api/projects/${encodeURIComponent(id)}/review/${stage}`;
  let review;
  try {
    review = await ctx.api.get(path);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return notFound(ctx, err);
    if (err instanceof ApiError && err.status === 400) {
      // not produced yet: say what the API says, and come back when the stage is ready
      fill(ctx.main, h("h2", {}, `Review the ${stage}`), h("p", { role: "status" }, err.message));
      ctx.onEvent((e) => {
        if (e.projectId === id && e.type === "stage_ready_for_review") reviewView(ctx, id, stage);
      });
      return;
    }
    throw err;
  }
  /** @type {Segment[]} */
  const segments = review.segments;
  const drafts = new Drafts(localStorage, ctx.me.userId, id, stage);
  const saved = drafts.load();
  const pending = review.decision === "pending";
  const translation = stage === "translation";

  const video = h("video", { controls: true, preload: "metadata", "aria-label": "Source video" });
  ctx.api.artifactUrl(id, "source").then((url) => (video.src = url), () => say("The source video cannot be played", "error"));
  let stopAt = Infinity;
  video.addEventListener("timeupdate", () => {
    if (video.currentTime >= stopAt) {
      video.pause();
      stopAt = Infinity;
    }
  });
  const play = (/** @type {Segment} */ s) => {
    video.currentTime = s.start;
    stopAt = s.end;
    video.play().catch(() => {});
    say(`Playing segment ${s.id}, ${clock(s.start)} to ${clock(s.end)}`);
  };

  const count = h("span", { id: "edit-count" });
  const showCount = () => {
    const n = Object.keys(editsFor(drafts.load(), segments)).length;
    count.textContent = n ? `${n} unsaved edit${n > 1 ? "s" : ""} (kept in this browser)` : "";
  };

  /** @type {HTMLTableRowElement[]} */
  const rows = [];
  const body = h("tbody");
  segments.forEach((s, i) => {
    const text = h("textarea", {
      rows: 2,
      "aria-label": `Text of segment ${s.id}`,
      readonly: !pending,
      "data-id": s.id,
    });
    text.value = saved[String(s.id)] ?? s.text;
    const edited = () => row.classList.toggle("edited", text.value !== s.text);
    text.addEventListener("input", () => {
      drafts.set(s.id, text.value, s.text);
      edited();
      showCount();
    });
    const heard = translation ? [{ text: s.sourceText ?? "", low: false, probability: null }] : confidencePieces(s.text, s.words);
    const source = h(
      "td",
      { class: "source" },
      heard.flatMap((p, j) => [
        j ? " " : "",
        p.low
          ? h("mark", { title: `confidence ${Math.round((p.probability ?? 0) * 100)} %` }, p.text.trim(),
              h("span", { class: "visually-hidden" }, " (low confidence)"))
          : p.text.trim(),
      ]),
    );
    const fit = [];
    if (s.atCap) fit.push(h("span", { class: "badge cap" }, `sped up ${s.tempo}× (the cap)`));
    else if (s.tempo && s.tempo > 1) fit.push(h("span", { class: "badge" }, `sped up ${s.tempo}×`));
    else if (s.tempo) fit.push(h("span", { class: "fits" }, "fits"));
    if (s.overflowSeconds) fit.push(h("span", { class: "badge overflow" }, `${s.overflowSeconds} s cut`));
    const row = h(
      "tr",
      { tabindex: i === 0 ? 0 : -1, "data-id": s.id, "aria-label": `Segment ${s.id}` },
      h("td", { class: "time" }, h("button", { type: "button", class: "play", tabindex: -1, "aria-label": `Play segment ${s.id}`, onclick: () => play(s) }, "▶"),
        ` ${clock(s.start)}–${clock(s.end)}`),
      h("td", {}, s.speaker),
      source,
      h("td", {}, text),
      translation ? h("td", { class: "fit" }, fit) : null,
    );
    row.addEventListener("click", (e) => {
      if (!(e.target instanceof HTMLTextAreaElement || e.target instanceof HTMLButtonElement)) {
        focusRow(i);
        play(s);
      }
    });
    edited();
    rows.push(row);
    body.append(row);
  });

  const focusRow = (/** @type {number} */ i) => {
    const index = Math.max(0, Math.min(rows.length - 1, i));
    rows.forEach((r, j) => r.setAttribute("tabindex", j === index ? "0" : "-1"));
    rows[index]?.focus();
    return index;
  };
  const rowOf = (/** @type {EventTarget | null} */ t) => rows.findIndex((r) => t instanceof Node && r.contains(t));
  const textOf = (/** @type {number} */ i) => rows[i]?.querySelector("textarea");

  body.addEventListener("keydown", (e) => {
    const i = rowOf(e.target);
    if (i < 0) return;
    const editing = e.target instanceof HTMLTextAreaElement;
    if (editing) {
      if (e.key === "Escape") {
        e.preventDefault();
        focusRow(i);
      } else if (e.altKey && (e.key === "ArrowDown" || e.key === "ArrowUp")) {
        e.preventDefault();
        textOf(focusRow(i + (e.key === "ArrowDown" ? 1 : -1)))?.focus();
      }
      return;
    }
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const moves = { ArrowDown: 1, j: 1, ArrowUp: -1, k: -1, Home: -Infinity, End: Infinity };
    if (e.key in moves) {
      e.preventDefault();
      const step = moves[/** @type {keyof typeof moves} */ (e.key)];
      focusRow(Number.isFinite(step) ? i + step : step < 0 ? 0 : rows.length - 1);
    } else if (e.key === "Enter" || e.key === "e") {
      e.preventDefault();
      const text = textOf(i);
      text?.focus();
      text?.setSelectionRange(text.value.length, text.value.length);
    } else if (e.key === "p" || e.key === " ") {
      e.preventDefault();
      play(segments[i]);
    } else if (e.key === "r" && pending) {
      e.preventDefault();
      reason.focus();
    }
  });

  const table = h(
    "table",
    { class: "segments", "aria-describedby": "keys-help" },
    h("caption", {}, `${segments.length} segments (${review.language})`),
    h("thead", {}, h("tr", {},
      h("th", { scope: "col" }, "Time"), h("th", { scope: "col" }, "Speaker"),
      h("th", { scope: "col" }, translation ? "Source text" : "Recognised (low confidence marked)"),
      h("th", { scope: "col" }, translation ? "Translation" : "Text"),
      translation ? h("th", { scope: "col" }, "Fit after TTS") : null)),
    body,
  );

  const approveButton = h("button", { type: "button", disabled: !pending }, "Approve");
  const reason = h("textarea", { id: "reason", rows: 2, disabled: !pending });
  const rejectButton = h("button", { type: "submit", disabled: !pending }, "Reject");
  const decide = async (/** @type {"approve" | "reject"} */ what) => {
    const edits = editsFor(drafts.load(), segments);
    if (what === "reject" && !reason.value.trim()) {
      say("A rejection needs a reason", "error");
      reason.focus();
      return;
    }
    approveButton.disabled = rejectButton.disabled = true;
    try {
      const body = what === "approve" ? { edits } : { reason: reason.value.trim() };
      const answer = await ctx.api.post(`${path}/${what}`, body, idempotencyKey());
      drafts.clear();
      const n = Object.keys(edits).length;
      say(`The ${stage} is ${answer.decision}${what === "approve" && n ? ` with ${n} edit${n > 1 ? "s" : ""}` : ""}`);
      location.hash = `#/projects/${id}`;
    } catch (err) {
      say(err instanceof ApiError ? err.message : String(err), "error");
      approveButton.disabled = rejectButton.disabled = false;
    }
  };
  approveButton.addEventListener("click", () => decide("approve"));
  const rejectForm = h("form", { class: "reject" },
    h("label", { for: "reason" }, "Reason for rejecting"), reason, rejectButton);
  rejectForm.addEventListener("submit", (e) => {
    e.preventDefault();
    decide("reject");
  });
  ctx.onKey((e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey) && pending) {
      e.preventDefault();
      decide("approve");
    }
  });

  fill(
    ctx.main,
    h("h2", {}, `Review the ${stage} of ${id}`),
    h("p", { id: "decision" }, `Decision: ${review.decision}`, review.reason ? ` (${review.reason})` : ""),
    h("div", { class: "review" }, video,
      h("div", { class: "decide" }, h("p", { id: "keys-help" }, KEYS_HELP), approveButton, " ", count, rejectForm)),
    table,
  );
  showCount();
}
