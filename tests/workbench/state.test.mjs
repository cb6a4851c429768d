// The workbench's pure modules under node's own test runner (no npm package needed).
import assert from "node:assert/strict";
import { test } from "node:test";

import { Drafts, editsFor } from "../../dubbing_api/static/js/drafts.js";
import { applyEvent, clock, describeStage, fromApi } from "../../dubbing_api/static/js/state.js";
import { confidencePieces } from "../../dubbing_api/static/js/words.js";

const out = {
  id: "p-1",
  premium: false,
  sourceLanguage: "en",
  targetLanguage: "es",
  createdAt: "2026-12-01T10:00:00Z",
  stages: { STT: "completed", MT: "waiting" },
};

test("a project from the API: its stages, lip-sync only when premium", () => {
  const p = fromApi(out);
  assert.deepEqual(Object.keys(p.stages), ["STT", "MT", "TTS", "MUXING"]);
  assert.deepEqual(p.stages.STT, { status: "completed", progress: 100, review: false });
  assert.equal(p.stages.TTS.status, "pending");
  assert.equal(p.completed, false);
  assert.ok("LIP_SYNC" in fromApi({ ...out, premium: true }).stages);
});

test("events move a stage through its states, other projects' events change nothing", () => {
  let p = fromApi(out);
  const at = (/** @type {any} */ e) => (p = applyEvent(p, { projectId: "p-1", stage: "MT", ...e }));
  at({ type: "job_started" });
  assert.equal(describeStage(p.stages.MT), "active 0 %");
  at({ type: "job_progress", progress: 42 });
  assert.equal(describeStage(p.stages.MT), "active 42 %");
  at({ type: "stage_ready_for_review" });
  assert.equal(describeStage(p.stages.MT), "ready for review");
  at({ type: "job_created", stage: "TTS" });
  assert.equal(p.stages.TTS.status, "waiting");
  at({ type: "job_failed", stage: "TTS" });
  assert.equal(p.stages.TTS.status, "failed");
  assert.equal(applyEvent(p, { type: "job_started", projectId: "p-2", stage: "TTS" }), p);
  assert.equal(applyEvent(p, { type: "job_started", projectId: "p-1", stage: "LIP_SYNC" }), p);
  assert.equal(applyEvent(p, { type: "project_completed", projectId: "p-1" }).completed, true);
});

test("drafts survive a new page (storage), edits are only real changes", () => {
  const memory = new Map();
  const storage = {
    getItem: (/** @type {string} */ k) => memory.get(k) ?? null,
    setItem: (/** @type {string} */ k, /** @type {string} */ v) => memory.set(k, v),
    removeItem: (/** @type {string} */ k) => memory.delete(k),
  };
  const segments = [{ id: 0, text: "Hello." }, { id: 1, text: "Bye." }, { id: 2, text: "Ok." }];
  new Drafts(storage, "alice", "p-1", "transcript").set(0, "Hello there.", "Hello.");
  new Drafts(storage, "alice", "p-1", "transcript").set(1, "  ", "Bye.");
  const again = new Drafts(storage, "alice", "p-1", "transcript");
  assert.deepEqual(again.load(), { 0: "Hello there.", 1: "  " });
  assert.deepEqual(editsFor(again.load(), segments), { 0: "Hello there." });
  assert.deepEqual(new Drafts(storage, "bob", "p-1", "transcript").load(), {});
  again.set(0, "Hello.", "Hello.");
  again.set(1, "Bye.", "Bye.");
  assert.equal(memory.size, 0);
  storage.setItem(again.key, "{not json");
  assert.deepEqual(again.load(), {});
});

test("low-confidence words are flagged under the threshold", () => {
  const words = [
    { text: " Hello", probability: 0.95 },
    { text: " wrold", probability: 0.31 },
    { text: " again", probability: null },
  ];
  const pieces = confidencePieces(" Hello wrold again", words);
  assert.deepEqual(pieces.map((p) => p.low), [false, true, false]);
  assert.deepEqual(confidencePieces("Hi.", null), [{ text: "Hi.", low: false, probability: null }]);
  assert.equal(clock(75.25), "1:15.3");
  assert.equal(clock(3), "0:03.0");
});
