// The live feed: GET /ws with the user's token. After a drop it reconnects and resumes with
// ?lastEventId= (the last event it saw), so no event is missed or seen twice.

const BACKOFF_MS = [500, 1000, 2000, 5000, 10000];
const FINAL = new Set([4400, 4401]); // a malformed id or a bad token: retrying cannot help

export class EventFeed {
  /** @param {string} token @param {(event: any) => void} onEvent
   * @param {(state: "live" | "reconnecting" | "closed") => void} onState */
  constructor(token, onEvent, onState) {
    this.token = token;
    this.onEvent = onEvent;
    this.onState = onState;
    /** @type {string | null} */
    this.lastEventId = null;
    this.attempt = 0;
    this.stopped = false;
    /** @type {WebSocket | null} */
    this.socket = null;
    this.connects = 0;
  }

  url() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const params = new URLSearchParams({ token: this.token });
    if (this.lastEventId) params.set("lastEventId", this.lastEventId);
    return `${scheme}://${location.host}/ws?${params}`;
  }

  start() {
    this.stopped = false;
    const socket = new WebSocket(this.url());
    this.socket = socket;
    socket.onopen = () => {
      this.attempt = 0;
      this.connects += 1;
      this.onState("live");
    };
    socket.onmessage = (message) => {
      const event = JSON.parse(message.data);
      if (event.id) this.lastEventId = event.id;
      this.onEvent(event);
    };
    socket.onclose = (close) => {
      if (this.socket !== socket) return;
      if (this.stopped || FINAL.has(close.code)) {
        this.onState("closed");
        return;
      }
      this.onState("reconnecting");
      const wait = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)];
      this.attempt += 1;
      setTimeout(() => this.stopped || this.start(), wait);
    };
  }

  stop() {
    this.stopped = true;
    this.socket?.close();
  }

  /** Drop the connection as a network would (the page reconnects and resumes). */
  drop() {
    this.socket?.close(4000, "dropped");
  }
}
