// The recogniser's low-confidence words, marked for the reviewer.

export const LOW_CONFIDENCE = 0.6;

/** @typedef {{text: string, probability: number | null}} Word */
/** @typedef {{text: string, low: boolean, probability: number | null}} Piece */

/** The segment's text as pieces, the words under the threshold flagged; without words, one
 * unflagged piece. @param {string} text @param {Word[] | null | undefined} words
 * @param {number} [threshold] @returns {Piece[]} */
export function confidencePieces(text, words, threshold = LOW_CONFIDENCE) {
  if (!words || words.length === 0) return [{ text, low: false, probability: null }];
  return words.map((w) => ({
    text: w.text,
    low: w.probability !== null && w.probability < threshold,
    probability: w.probability,
  }));
}
