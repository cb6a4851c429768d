// The REST client: every call carries the signed-in user's bearer token; every error is the
// API's own {"error": {"code", "message"}}, shown as the API words it.

export class ApiError extends Error {
  /** @param {number} status @param {string} code @param {string} message */
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** A fresh Idempotency-Key: a retried create or approval then changes nothing twice. */
export function idempotencyKey() {
  return globalThis.crypto?.randomUUID?.() ?? `${Date.now()}-${Math.random().toString(16).slice(2)}`;
}

export class Api {
  /** @param {string} token @param {string} [base] the API's origin ('' for this page's) */
  constructor(token, base = "") {
    this.token = token;
    this.base = base;
  }

  /**
   * @param {string} method @param {string} path
   * @param {{json?: unknown, body?: BodyInit, key?: string, headers?: Record<string, string>}} [options]
   * @returns {Promise<Response>}
   */
  async raw(method, path, options = {}) {
    /** @type {Record<string, string>} */
    const headers = { Authorization: `Bearer ${this.token}`, ...(options.headers ?? {}) };
    let body = options.body;
    if (options.json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(options.json);
    }
    if (options.key) headers["Idempotency-Key"] = options.key;
    const response = await fetch(this.base + path, { method, headers, body });
    if (!response.ok) {
      let code = "http_error";
      let message = `${response.status} ${response.statusText}`;
      try {
        const answer = await response.json();
        code = answer.error?.code ?? code;
        message = answer.error?.message ?? message;
      } catch {
        // not the API's JSON (a proxy's page): the status line is all there is
      }
      throw new ApiError(response.status, code, message);
    }
    return response;
  }

  /** @param {string} path @returns {Promise<any>} */
  async get(path) {
    return (await this.raw("GET", path)).json();
  }

  /** @param {string} path @param {unknown} [json] @param {string} [key] @returns {Promise<any>} */
  async post(path, json, key) {
    return (await this.raw("POST", path, { json, key })).json();
  }

  /** Upload a file into the caller's upload area: the key to name as a project's videoUrl.
   * @param {Blob} file @param {string} filename @returns {Promise<string>} */
  async upload(file, filename) {
    const safe = filename.replace(/[^\w.-]/g, "_").slice(-100) || "video.mp4";
    const path = `/api/uploads?filename=${encodeURIComponent(safe)}`;
    const response = await this.raw("POST", path, {
      body: file,
      headers: { "Content-Type": "application/octet-stream" },
    });
    return (await response.json()).key;
  }

  /** An artifact as a blob URL: media elements and links cannot send a bearer token.
   * @param {string} project @param {string} name @returns {Promise<string>} */
  async artifactUrl(project, name) {
    const response = await this.raw("GET", `/api/projects/${encodeURIComponent(project)}/artifacts/${name}`);
    return URL.createObjectURL(await response.blob());
  }
}
