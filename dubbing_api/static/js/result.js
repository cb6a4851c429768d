// The result: the dubbed video, a switch between the dub and the original audio, subtitles.
// The dubbed file carries the original as a second audio track; a browser that exposes audio
// tracks (video.audioTracks) switches it in place, any other plays the source video's audio
// (the `source` artifact) from the same moment.

import { ApiError } from "./api.js";
import { download, fill, h, say } from "./dom.js";
import { notFound } from "./projects.js";

/** @typedef {import("./app.js").Context} Context */

const SUBTITLES = [
  ["subtitles.srt", "Dub subtitles (SRT)"],
  ["subtitles.vtt", "Dub subtitles (WebVTT)"],
  ["source.srt", "Source subtitles (SRT)"],
  ["source.vtt", "Source subtitles (WebVTT)"],
];

/** @param {Context} ctx @param {string} id */
export async function resultView(ctx, id) {
  let project;
  try {
    project = await ctx.api.get(`/api/projects/${encodeURIComponent(id)}`);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return notFound(ctx, err);
    throw err;
  }
  const video = h("video", { controls: true, preload: "metadata", "aria-label": "Dubbed video" });
  /** @type {Record<string, string>} */
  const urls = {};
  try {
    urls.dub = await ctx.api.artifactUrl(id, "video");
  } catch (err) {
    fill(ctx.main, h("h2", {}, `Result of ${id}`), h("p", { role: "status" }, err instanceof Error ? err.message : String(err)));
    return;
  }
  video.src = urls.dub;
  ctx.api.artifactUrl(id, "subtitles.vtt").then((url) => {
    video.append(h("track", { kind: "subtitles", src: url, srclang: project.targetLanguage, label: project.targetLanguage, default: true }));
  }, () => {});

  /** Switch to the original audio (true) or back to the dub, keeping the moment and play state.
   * @param {boolean} original */
  const listen = async (original) => {
    const tracks = /** @type {any} */ (video).audioTracks;
    if (tracks && tracks.length > 1) {
      for (let i = 0; i < tracks.length; i++) tracks[i].enabled = original ? i === 1 : i === 0;
    } else {
      const at = video.currentTime;
      const playing = !video.paused;
      urls.original ??= await ctx.api.artifactUrl(id, "source");
      video.src = original ? urls.original : urls.dub;
      video.currentTime = at;
      if (playing) video.play().catch(() => {});
    }
    video.dataset.audio = original ? "original" : "dub";
    say(original ? "Playing the original audio" : "Playing the dub");
  };
  video.dataset.audio = "dub";
  const kept = project.originalTrack !== false;
  const radio = (/** @type {string} */ value, /** @type {string} */ label, /** @type {boolean} */ checked) => {
    const input = h("input", { type: "radio", name: "audio", value, id: `audio-${value}`, checked });
    input.addEventListener("change", () => input.checked && listen(value === "original"));
    return h("label", { for: `audio-${value}`, class: "inline" }, input, ` ${label}`);
  };
  const audio = kept
    ? h("fieldset", { class: "audio" }, h("legend", {}, "Audio"),
        radio("dub", `Dub (${project.targetLanguage})`, true),
        radio("original", `Original (${project.sourceLanguage})`, false))
    : h("p", {}, "The original audio was not kept in this dub.");

  const downloads = h("ul", { class: "downloads" }, SUBTITLES.map(([name, label]) =>
    h("li", {}, h("button", {
      type: "button",
      onclick: async () => {
        try {
          download(await ctx.api.artifactUrl(id, name), `${id}-${name}`);
        } catch (err) {
          say(err instanceof Error ? err.message : String(err), "error");
        }
      },
    }, label))));
  const videoLink = h("button", { type: "button", onclick: () => download(urls.dub, `${id}-dubbed.mp4`) }, "Dubbed video");
  fill(ctx.main, h("h2", {}, `Result of ${id}`), video, audio,
    h("h3", {}, "Downloads"), downloads, h("p", {}, videoLink));
}
