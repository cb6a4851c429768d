// The live feed's reconnect: after a drop it comes back with ?lastEventId= the last event seen;
// a bad token (4401) is final. A stand-in WebSocket records the URLs the feed opens.
import assert from "node:assert/strict";
import { test } from "node:test";

import { EventFeed } from "../../dubbing_api/static/js/events.js";

class FakeSocket {
  /** @type {FakeSocket[]} */
  static opened = [];
  /** @param {string} url */
  constructor(url) {
    this.url = url;
    /** @type {any} */ this.onopen = null;
    /** @type {any} */ this.onmessage = null;
    /** @type {any} */ this.onclose = null;
    FakeSocket.opened.push(this);
  }
  /** @param {number} [code] */
  close(code = 1000) {
    this.onclose?.({ code });
  }
}

test("a dropped feed resumes from the last event it saw; a refused token stops it", async (t) => {
  Object.assign(globalThis, { WebSocket: FakeSocket, location: { protocol: "http:", host: "h:1" } });
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const seen = [];
  const states = [];
  const feed = new EventFeed("tok", (e) => seen.push(e.id), (s) => states.push(s));
  feed.start();
  const first = FakeSocket.opened[0];
  assert.equal(first.url, "ws://h:1/ws?token=tok");
  first.onopen();
  first.onmessage({ data: JSON.stringify({ id: "1-0", type: "job_started" }) });
  first.onmessage({ data: JSON.stringify({ id: "2-0", type: "job_progress" }) });
  first.close(1006);
  t.mock.timers.tick(500);
  const second = FakeSocket.opened[1];
  assert.equal(second.url, "ws://h:1/ws?token=tok&lastEventId=2-0");
  second.onopen();
  assert.deepEqual(states, ["live", "reconnecting", "live"]);
  assert.deepEqual(seen, ["1-0", "2-0"]);
  second.close(4401);
  t.mock.timers.tick(20_000);
  assert.equal(FakeSocket.opened.length, 2);
  assert.equal(states.at(-1), "closed");
});
