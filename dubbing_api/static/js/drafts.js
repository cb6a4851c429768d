// Unsaved review edits, kept in localStorage (per user, project and stage) so a reload or a
// crashed tab never loses them; dropped once the API has the decision.

/** @typedef {{getItem(k: string): string | null, setItem(k: string, v: string): void,
 *   removeItem(k: string): void}} KeyValue */

export class Drafts {
  /** @param {KeyValue} storage @param {string} user @param {string} project @param {string} stage */
  constructor(storage, user, project, stage) {
    this.storage = storage;
    this.key = `dubbing.draft.${user}.${project}.${stage}`;
  }

  /** @returns {Record<string, string>} segment id -> text */
  load() {
    try {
      const value = JSON.parse(this.storage.getItem(this.key) ?? "{}");
      return value && typeof value === "object" ? value : {};
    } catch {
      return {};
    }
  }

  /** Remember a segment's text; the reviewed text itself is no edit, so it is forgotten.
   * @param {number} id @param {string} text @param {string} reviewed */
  set(id, text, reviewed) {
    const drafts = this.load();
    if (text === reviewed) delete drafts[String(id)];
    else drafts[String(id)] = text;
    if (Object.keys(drafts).length) this.storage.setItem(this.key, JSON.stringify(drafts));
    else this.storage.removeItem(this.key);
  }

  clear() {
    this.storage.removeItem(this.key);
  }
}

/** The edits an approval sends: drafts that differ from the reviewed text, non-blank.
 * @param {Record<string, string>} drafts @param {{id: number, text: string}[]} segments
 * @returns {Record<string, string>} */
export function editsFor(drafts, segments) {
  /** @type {Record<string, string>} */
  const edits = {};
  for (const segment of segments) {
    const text = drafts[String(segment.id)];
    if (text !== undefined && text !== segment.text && text.trim()) edits[String(segment.id)] = text;
  }
  return edits;
}
