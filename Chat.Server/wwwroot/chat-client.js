/**
 * chat-client.js — a small, dependency-free client for the Chat server's wire protocol (see protocol.md).
 *
 * Works in any modern browser (ES module, `fetch`, `WebSocket`, `EventTarget`). Import it from the server:
 *
 * ```js
 * import { ChatClient } from '/chat-client.js';
 *
 * const chat = new ChatClient();                 // same origin; or new ChatClient({ baseUrl: 'https://chat.example' })
 * if (!chat.token) await chat.login('purnaacharya', 'correct horse');
 * chat.addEventListener('message', (e) => console.log(e.detail));   // every new message, exactly once
 * chat.connect();                                // WebSocket with reconnect + sync
 * await chat.whenConnected();                    // then load state: the socket already carries what comes after
 * const { conversations } = await chat.conversations();
 * const ack = await chat.send('sishirbhusal', 'Hello');              // resolves on `ack`, rejects on `error`
 * ```
 *
 * What it does for you:
 * - HTTP calls with the bearer token; errors become {@link ChatApiError} carrying the problem-details `code`.
 * - The token is kept in `sessionStorage` (per tab), so a reload stays logged in.
 * - One WebSocket (`/ws?token=…`, as browsers cannot set headers) that reconnects with exponential backoff and
 *   full jitter, pings the server to notice dead connections, and after every reconnect sends `sync` from its
 *   cursor (paging while `has_more`). The cursor moves only with frames received on the socket (`chat_message`,
 *   `message_sent`, `sync_complete`), never with an HTTP answer: a message sent over HTTP while the socket was
 *   down does not make the next `sync` skip what arrived meanwhile. The first socket starts the cursor at its
 *   `connected.last_message_id`, so load state over HTTP after {@link ChatClient#whenConnected}.
 * - De-duplication by `message_id`: a message that arrives live and again in a replay is reported once.
 * - Typed events: one `CustomEvent` per frame type, named after it (`connected`, `chat_message`, `message_sent`,
 *   `conversation_refresh`, `ack`, `messages_read`, `typing`, `presence`, `sync_complete`, `pong`, `error`),
 *   with the frame as `detail`. Unknown frame types are ignored, as the protocol requires.
 * - Derived events: `message` (a new message, sent or received, once per `message_id`; `detail` is a message object
 *   plus `direction` 'in'|'out' and, for this client's own sends, `client_msg_id`), `status`
 *   (`{state: 'connecting'|'open'|'closed', attempt, delay?, code?}`), `synced` (a sync finished),
 *   `unauthorized` (the token no longer works; the client stopped and forgot it).
 * - `send()` with a `client_msg_id` (a UUID) returning a promise; unanswered sends are re-sent after a reconnect with
 *   the same id, and a manual retry is `send(receiver, text, { clientMsgId })` with the id of the failed send.
 *
 * @module chat-client
 */

/** Frame types the server sends; anything else is ignored. */
export const SERVER_FRAME_TYPES = Object.freeze([
  'connected', 'chat_message', 'message_sent', 'conversation_refresh', 'ack', 'messages_read',
  'typing', 'presence', 'sync_complete', 'pong', 'error',
]);

/**
 * @typedef {object} User
 * @property {string} username
 * @property {string} full_name
 * @property {string} email
 * @property {string|null} profile_picture  URL path of the avatar, or null
 */

/**
 * @typedef {object} Message
 * @property {number} message_id
 * @property {number} conversation_id
 * @property {string} sender
 * @property {string} receiver
 * @property {string} message
 * @property {number} timestamp  Unix seconds
 * @property {boolean} [is_read]
 */

/**
 * @typedef {object} Ack
 * @property {string|null} client_msg_id
 * @property {number} message_id
 * @property {number} conversation_id
 * @property {number} timestamp
 * @property {boolean} is_new_conversation
 */

/** An HTTP problem-details answer or a WebSocket `error` frame. Branch on `code`. */
export class ChatApiError extends Error {
  /**
   * @param {string} code    machine-readable code (`unknown_user`, `rate_limited`, ...; `network`, `timeout`, `closed` for local failures)
   * @param {string} message human-readable text
   * @param {number} [status] HTTP status, 0 for WebSocket and local errors
   * @param {number} [retryAfter] seconds, for `rate_limited` over HTTP
   */
  constructor(code, message, status = 0, retryAfter = undefined) {
    super(message || code);
    this.name = 'ChatApiError';
    this.code = code;
    this.status = status;
    this.retryAfter = retryAfter;
  }
}

/** A UUID for `client_msg_id`; `crypto.randomUUID` only exists in secure contexts, so fall back to getRandomValues. */
export function newClientMsgId() {
  if (globalThis.crypto?.randomUUID) return globalThis.crypto.randomUUID();
  const b = globalThis.crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * Client for one user of one Chat server.
 * @extends EventTarget
 */
export class ChatClient extends EventTarget {
  /**
   * @param {object} [options]
   * @param {string} [options.baseUrl] server origin, e.g. `https://chat.example`; default: this page's origin
   * @param {Storage|null} [options.storage] where the token is kept (default `sessionStorage`; null: memory only)
   * @param {string} [options.storageKey] key in that storage (default `chat.token`)
   * @param {number} [options.initialDelayMs] first reconnect delay (default 500)
   * @param {number} [options.maxDelayMs] longest reconnect delay (default 30000)
   * @param {number} [options.pingIntervalMs] application ping period while open (default 25000; 0 disables)
   * @param {number} [options.sendTimeoutMs] how long `send` waits for its ack (default 20000)
   * @param {number} [options.syncLimit] messages per `sync` page (default 500)
   */
  constructor(options = {}) {
    super();
    this.baseUrl = (options.baseUrl ?? globalThis.location?.origin ?? '').replace(/\/$/, '');
    this._storage = options.storage === undefined ? globalThis.sessionStorage ?? null : options.storage;
    this._storageKey = options.storageKey ?? 'chat.token';
    this._initialDelay = options.initialDelayMs ?? 500;
    this._maxDelay = options.maxDelayMs ?? 30000;
    this._pingInterval = options.pingIntervalMs ?? 25000;
    this._sendTimeout = options.sendTimeoutMs ?? 20000;
    this._syncLimit = options.syncLimit ?? 500;

    /** @type {string|null} */
    this._token = this._readToken();
    /** @type {User|null} */
    this.user = null;

    /** @type {WebSocket|null} */
    this._ws = null;
    this._wanted = false;        // connect() called and not disconnect()
    this._attempt = 0;           // consecutive failed attempts, for backoff
    this._timer = 0;             // pending reconnect
    this._pingTimer = 0;
    this._pongDeadline = 0;
    this._open = false;          // `connected` frame received on the current socket

    this._seen = new Set();      // message ids already reported
    this._cursor = 0;            // safe point to sync from: every message <= cursor came on a socket
    this._hasCursor = false;     // false until the first `connected` (which starts the cursor)
    this._socketMax = 0;         // largest message id received on a socket (live or replayed)
    this._maxSeen = 0;           // largest id seen anywhere, HTTP answers included (never used to sync from)
    this._syncing = false;

    /** client_msg_id -> in-flight send */
    this._pending = new Map();

    this._onOnline = () => { if (this._wanted && !this._ws) this._reconnectNow(); };
    globalThis.addEventListener?.('online', this._onOnline);
  }

  // ---------------------------------------------------------------- token and account

  /** The bearer token, or null when logged out. */
  get token() { return this._token; }

  /** True while a socket is open and past its `connected` frame. */
  get isConnected() { return this._open; }

  /** The largest `message_id` this client has seen (sent, received, acked or loaded). */
  get lastMessageId() { return this._maxSeen; }

  _readToken() {
    try { return this._storage?.getItem(this._storageKey) ?? null; } catch { return null; }
  }

  _setToken(token) {
    this._token = token;
    try {
      if (token) this._storage?.setItem(this._storageKey, token);
      else this._storage?.removeItem(this._storageKey);
    } catch { /* storage may be unavailable (private mode); keep it in memory */ }
  }

  /**
   * Creates an account and logs in.
   * @param {{username: string, password: string, full_name?: string, email?: string}} account
   * @returns {Promise<User>}
   */
  async register(account) {
    const body = { username: account.username, password: account.password };
    if (account.full_name) body.full_name = account.full_name;
    if (account.email) body.email = account.email;
    const res = await this._fetch('POST', '/api/auth/register', body, { auth: false });
    this._setToken(res.token);
    this.user = res.user;
    return res.user;
  }

  /**
   * Logs in and keeps the token.
   * @param {string} username
   * @param {string} password
   * @returns {Promise<User>}
   */
  async login(username, password) {
    const res = await this._fetch('POST', '/api/auth/login', { username, password }, { auth: false });
    this._setToken(res.token);
    this.user = res.user;
    return res.user;
  }

  /** Revokes the token on the server (best effort), closes the socket and forgets everything. */
  async logout() {
    this.disconnect();
    try { if (this._token) await this._fetch('POST', '/api/auth/logout'); } catch { /* already invalid */ }
    this._setToken(null);
    this.user = null;
    this._seen.clear();
    this._cursor = this._socketMax = this._maxSeen = 0;
    this._hasCursor = false;
  }

  // ---------------------------------------------------------------- HTTP API

  /** @returns {Promise<User>} the logged-in user (also stored as `this.user`). */
  async me() {
    this.user = await this._fetch('GET', '/api/users/me');
    return this.user;
  }

  /**
   * Updates the profile. `""` clears a field; omitted leaves it as is.
   * @param {{full_name?: string, email?: string}} changes
   * @returns {Promise<User>}
   */
  async updateMe(changes) {
    this.user = await this._fetch('PATCH', '/api/users/me', changes);
    return this.user;
  }

  /**
   * Uploads a profile picture (png, jpeg, gif or webp; at most 1 MiB by default).
   * @param {Blob} file  e.g. a `File` from `<input type=file>`
   * @returns {Promise<User>}
   */
  async uploadAvatar(file) {
    this.user = await this._fetch('PUT', '/api/users/me/avatar', file, { contentType: file.type || 'application/octet-stream' });
    return this.user;
  }

  /** Removes the profile picture. @returns {Promise<User>} */
  async deleteAvatar() {
    this.user = await this._fetch('DELETE', '/api/users/me/avatar');
    return this.user;
  }

  /**
   * Searches users by username prefix, name (or word of it) prefix, or exact email.
   * @param {string} q
   * @param {{limit?: number, signal?: AbortSignal}} [opts]
   * @returns {Promise<User[]>}
   */
  async search(q, opts = {}) {
    const params = new URLSearchParams({ q, limit: String(opts.limit ?? 20) });
    const res = await this._fetch('GET', `/api/users/search?${params}`, undefined, { signal: opts.signal });
    return res.results;
  }

  /**
   * The caller's conversations, newest activity first. Load them after {@link ChatClient#whenConnected}: what
   * happens after the socket is registered comes on it, so nothing falls between the list and the live frames.
   * @param {{limit?: number}} [opts]
   * @returns {Promise<{conversations: Array<{conversation_id: number, other_user: User, last_message: Message|null, unread_count: number, created_at: number}>}>}
   */
  async conversations(opts = {}) {
    const res = await this._fetch('GET', `/api/conversations?limit=${opts.limit ?? 200}`);
    for (const c of res.conversations) if (c.last_message) this.noteMessageId(c.last_message.message_id);
    return res;
  }

  /**
   * A page of history in ascending order: the newest `limit` messages with id below `before`.
   * @param {number} conversationId
   * @param {{before?: number, limit?: number}} [opts]
   * @returns {Promise<Message[]>}
   */
  async history(conversationId, opts = {}) {
    const params = new URLSearchParams({ limit: String(opts.limit ?? 50) });
    if (opts.before) params.set('before', String(opts.before));
    const res = await this._fetch('GET', `/api/conversations/${encodeURIComponent(conversationId)}/messages?${params}`);
    for (const m of res.messages) this.noteMessageId(m.message_id);
    return res.messages;
  }

  /**
   * Moves the read cursor (everything so far when `upToMessageId` is omitted). Uses the socket when open
   * (answered by a `messages_read` event), else HTTP.
   * @param {number} conversationId
   * @param {number} [upToMessageId]
   */
  async markRead(conversationId, upToMessageId) {
    const frame = { type: 'mark_read', conversation_id: conversationId };
    if (upToMessageId) frame.up_to_message_id = upToMessageId;
    if (this._sendFrame(frame)) return;
    const body = upToMessageId ? { up_to_message_id: upToMessageId } : {};
    await this._fetch('POST', `/api/conversations/${encodeURIComponent(conversationId)}/read`, body);
  }

  /**
   * Tells the other participant that this user is typing (only over an open socket; throttle it yourself).
   * @param {string} receiver
   * @returns {boolean} whether it was sent
   */
  typing(receiver) {
    return this._sendFrame({ type: 'typing', receiver });
  }

  /**
   * Sends a message. Over the socket when it is open (`send_message`, answered by `ack` or `error`), else over
   * HTTP (`POST /api/messages`). Both are idempotent by `client_msg_id`: to retry a failed send, pass the same id.
   * Sends still unanswered when the socket drops are re-sent after the reconnect with the same id.
   * @param {string} receiver username
   * @param {string} text
   * @param {{clientMsgId?: string, timeoutMs?: number}} [opts]
   * @returns {Promise<Ack>} resolved by the ack; rejected with a {@link ChatApiError}
   */
  send(receiver, text, opts = {}) {
    const clientMsgId = opts.clientMsgId ?? newClientMsgId();
    const existing = this._pending.get(clientMsgId);
    if (existing) return existing.promise;
    const entry = { clientMsgId, receiver, text, socket: null, messageId: 0 };
    entry.promise = new Promise((resolve, reject) => { entry.resolve = resolve; entry.reject = reject; });
    entry.timer = setTimeout(() => this._settle(clientMsgId, new ChatApiError('timeout', 'No answer from the server.')), opts.timeoutMs ?? this._sendTimeout);
    this._pending.set(clientMsgId, entry);
    this._transmit(entry);
    return entry.promise;
  }

  _transmit(entry) {
    const frame = { type: 'send_message', receiver: entry.receiver, message: entry.text, client_msg_id: entry.clientMsgId };
    if (this._sendFrame(frame)) { entry.socket = this._ws; return; }
    entry.socket = 'http';
    this._fetch('POST', '/api/messages', { receiver: entry.receiver, message: entry.text, client_msg_id: entry.clientMsgId })
      .then((receipt) => {
        // The socket is down, so its message_sent may never come live: report the message from the receipt
        // (de-duplicated, so a later replay of it is ignored).
        this._reportMessage({ ...receipt, type: 'message_sent' }, entry.clientMsgId);
        this._settle(entry.clientMsgId, null, {
          client_msg_id: entry.clientMsgId, message_id: receipt.message_id, conversation_id: receipt.conversation_id,
          timestamp: receipt.timestamp, is_new_conversation: receipt.is_new_conversation,
        });
      })
      .catch((err) => this._settle(entry.clientMsgId, err instanceof ChatApiError ? err : new ChatApiError('network', String(err?.message ?? err))));
  }

  _settle(clientMsgId, error, ack) {
    const entry = this._pending.get(clientMsgId);
    if (!entry) return;
    this._pending.delete(clientMsgId);
    clearTimeout(entry.timer);
    if (error) entry.reject(error); else entry.resolve(ack);
  }

  async _fetch(method, path, body, opts = {}) {
    const headers = {};
    if (opts.auth !== false) {
      if (!this._token) throw new ChatApiError('unauthorized', 'Not logged in.', 401);
      headers.Authorization = `Bearer ${this._token}`;
    }
    let payload;
    if (body instanceof Blob) { payload = body; headers['Content-Type'] = opts.contentType; }
    else if (body !== undefined) { payload = JSON.stringify(body); headers['Content-Type'] = 'application/json'; }
    let res;
    try {
      res = await fetch(this.baseUrl + path, { method, headers, body: payload, signal: opts.signal, cache: 'no-store' });
    } catch (e) {
      if (e?.name === 'AbortError') throw e;
      throw new ChatApiError('network', 'The server cannot be reached.');
    }
    if (res.status === 204) return null;
    let data = null;
    try { data = await res.json(); } catch { /* empty or not JSON */ }
    if (!res.ok) {
      const code = data?.code ?? `http_${res.status}`;
      const err = new ChatApiError(code, data?.detail ?? data?.title ?? res.statusText, res.status,
        res.headers.get('Retry-After') ? Number(res.headers.get('Retry-After')) : undefined);
      if (res.status === 401 && opts.auth !== false) this._unauthorized();
      throw err;
    }
    return data;
  }

  _unauthorized() {
    if (!this._token) return;
    this.disconnect();
    this._setToken(null);
    this._emit('unauthorized', {});
  }

  // ---------------------------------------------------------------- WebSocket

  /** Opens the socket (and keeps it open, reconnecting, until `disconnect()` or logout). */
  connect() {
    if (!this._token) throw new ChatApiError('unauthorized', 'Log in first.', 401);
    this._wanted = true;
    if (!this._ws && !this._timer) this._openSocket();
  }

  /** Closes the socket and stops reconnecting. In-flight sends are rejected. */
  disconnect() {
    this._wanted = false;
    clearTimeout(this._timer); this._timer = 0;
    this._stopPing();
    const ws = this._ws;
    this._ws = null;
    this._open = false;
    if (ws) { ws.onclose = ws.onmessage = ws.onerror = ws.onopen = null; try { ws.close(1000, 'bye'); } catch { /* ignore */ } }
    for (const id of [...this._pending.keys()]) this._settle(id, new ChatApiError('closed', 'Disconnected.'));
    this._emit('status', { state: 'closed', attempt: 0 });
  }

  /**
   * Records an id seen outside the socket (e.g. loaded over HTTP) for {@link ChatClient#lastMessageId}. It does not
   * move the sync cursor: only frames received on the socket do.
   * @param {number} id
   */
  noteMessageId(id) {
    if (id > this._maxSeen) this._maxSeen = id;
  }

  /** A `chat_message` or `message_sent` came on the socket: outside a replay, the cursor moves past it. */
  _receivedOnSocket(id) {
    if (!(id > 0)) return;
    if (id > this._socketMax) this._socketMax = id;
    if (!this._syncing && id > this._cursor) this._cursor = id;
  }

  /** Resolves once a socket is open and past its `connected` frame (at once when it already is). */
  whenConnected() {
    if (this._open) return Promise.resolve();
    return new Promise((resolve) => this.addEventListener('connected', () => resolve(), { once: true }));
  }

  _wsUrl() {
    const u = new URL('/ws', this.baseUrl || globalThis.location.href);
    u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
    u.searchParams.set('token', this._token);
    return u.toString();
  }

  _openSocket() {
    this._timer = 0;
    if (!this._wanted || !this._token) return;
    this._emit('status', { state: 'connecting', attempt: this._attempt });
    let ws;
    try { ws = new WebSocket(this._wsUrl()); } catch { this._scheduleReconnect(0); return; }
    this._ws = ws;
    this._open = false;
    ws.onmessage = (ev) => { if (this._ws === ws) this._onFrame(ev.data); };
    ws.onclose = (ev) => { if (this._ws === ws) this._onClose(ev.code, ev.reason); };
    ws.onerror = () => { /* followed by close */ };
  }

  _onClose(code, reason) {
    const wasOpen = this._open;
    this._ws = null;
    this._open = false;
    this._syncing = false;
    this._stopPing();
    this._emit('status', { state: 'closed', attempt: this._attempt, code, reason });
    if (!this._wanted) return;
    // A revoked or expired token is refused before the upgrade, which a browser only sees as 1006.
    // Ask over HTTP when it could be that; a 401 there stops the client (see _fetch).
    if (code === 1008 || !wasOpen) {
      this._fetch('GET', '/api/users/me').then(() => this._scheduleReconnect(code), (e) => {
        if (e?.status !== 401) this._scheduleReconnect(code);
      });
    } else {
      this._scheduleReconnect(code);
    }
  }

  _scheduleReconnect(code) {
    if (!this._wanted || this._ws || this._timer) return;
    // Exponential backoff with full jitter: a random delay in [base/2, base], base doubling up to the cap.
    const base = Math.min(this._maxDelay, this._initialDelay * 2 ** this._attempt);
    const delay = Math.round(base / 2 + Math.random() * base / 2);
    this._attempt++;
    this._timer = setTimeout(() => this._openSocket(), delay);
    this._emit('status', { state: 'waiting', attempt: this._attempt, delay, code });
  }

  _reconnectNow() {
    clearTimeout(this._timer);
    this._timer = 0;
    this._openSocket();
  }

  _sendFrame(frame) {
    const ws = this._ws;
    if (!ws || !this._open || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(frame));
    return true;
  }

  _startPing() {
    this._stopPing();
    if (!this._pingInterval) return;
    this._pingTimer = setInterval(() => {
      if (this._pongDeadline && Date.now() > this._pongDeadline) {
        // No pong for a whole period: the connection is dead without a close. Drop it and reconnect.
        const ws = this._ws;
        if (ws) { try { ws.close(4000, 'ping timeout'); } catch { /* ignore */ } this._onClose(1006, 'ping timeout'); }
        return;
      }
      if (this._sendFrame({ type: 'ping' }) && !this._pongDeadline) this._pongDeadline = Date.now() + this._pingInterval;
    }, this._pingInterval);
  }

  _stopPing() {
    clearInterval(this._pingTimer);
    this._pingTimer = 0;
    this._pongDeadline = 0;
  }

  _requestSync(after) {
    this._syncing = true;
    this._sendFrame({ type: 'sync', after_message_id: after, limit: this._syncLimit });
  }

  _onFrame(data) {
    let frame;
    try { frame = JSON.parse(data); } catch { return; }
    if (!frame || typeof frame !== 'object' || typeof frame.type !== 'string') return;
    if (!SERVER_FRAME_TYPES.includes(frame.type)) return; // unknown types are ignored, by the protocol
    this._pongDeadline = 0; // any frame proves the connection is alive

    switch (frame.type) {
      case 'connected': {
        this._open = true;
        this._attempt = 0;
        this.user = this.user && this.user.username === frame.username ? this.user : { ...(this.user ?? {}), username: frame.username };
        this._emit('status', { state: 'open', attempt: 0 });
        this._emit('connected', frame);
        this._startPing();
        // Re-send what was never answered on the old socket (same client_msg_id: idempotent).
        for (const entry of this._pending.values()) if (entry.socket !== 'http' && entry.socket !== this._ws) this._transmit(entry);
        if (!this._hasCursor) {
          // The first socket: the app loads its state over HTTP from here on, so the cursor starts where it stands.
          this._hasCursor = true;
          this._cursor = Math.max(this._cursor, frame.last_message_id);
        }
        if (frame.last_message_id > this._cursor) this._requestSync(this._cursor);
        else this._emit('synced', { last_message_id: this._cursor, replayed: false });
        return;
      }
      case 'chat_message':
      case 'message_sent':
        this._receivedOnSocket(frame.message_id);
        this._reportMessage(frame);
        this._emit(frame.type, frame);
        return;
      case 'ack':
        if (frame.message_id) this.noteMessageId(frame.message_id);
        this._emit('ack', frame);
        if (frame.client_msg_id) this._settle(frame.client_msg_id, null, frame);
        return;
      case 'error':
        this._emit('error', frame);
        if (frame.client_msg_id && this._pending.has(frame.client_msg_id))
          this._settle(frame.client_msg_id, new ChatApiError(frame.code, frame.message));
        return;
      case 'sync_complete':
        this._emit('sync_complete', frame);
        if (frame.has_more) {
          this._cursor = Math.max(this._cursor, frame.last_message_id);
          this._requestSync(this._cursor);
        } else {
          // Everything up to the replay's end was replayed, and everything after arrived live (behind it).
          this._syncing = false;
          this._cursor = Math.max(this._cursor, frame.last_message_id, this._socketMax);
          this._emit('synced', { last_message_id: this._cursor, replayed: true });
        }
        return;
      case 'pong':
        this._pongDeadline = 0;
        this._emit('pong', frame);
        return;
      default:
        this._emit(frame.type, frame);
    }
  }

  /** Reports a chat_message / message_sent (or an HTTP receipt) as a `message` event, once per message_id. */
  _reportMessage(frame, clientMsgId) {
    const id = frame.message_id;
    if (!(id > 0) || this._seen.has(id)) return;
    this._seen.add(id);
    this.noteMessageId(id);
    const me = this.user?.username?.toLowerCase();
    const out = frame.type === 'message_sent' || (me && frame.sender?.toLowerCase() === me);
    if (out && !clientMsgId) {
      // The echo of one of this client's own sends (message_sent comes right before its ack): tell the app
      // which pending send it is, matching the oldest unanswered send with the same receiver and text.
      for (const entry of this._pending.values()) {
        if (!entry.messageId && entry.text === frame.message && entry.receiver.toLowerCase() === frame.receiver?.toLowerCase()) {
          entry.messageId = id;
          clientMsgId = entry.clientMsgId;
          break;
        }
      }
    }
    const message = {
      message_id: id, conversation_id: frame.conversation_id, sender: frame.sender, receiver: frame.receiver,
      message: frame.message, timestamp: frame.timestamp, is_new_conversation: !!frame.is_new_conversation,
      sender_full_name: frame.sender_full_name ?? frame.sender, sender_email: frame.sender_email ?? '',
      receiver_full_name: frame.receiver_full_name ?? frame.receiver, receiver_email: frame.receiver_email ?? '',
      direction: out ? 'out' : 'in', client_msg_id: clientMsgId ?? null, replay: this._syncing,
    };
    this._emit('message', message);
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
