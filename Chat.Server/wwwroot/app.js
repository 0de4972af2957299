// The chat app: log in, search people, a live sidebar of conversations and a chat window, on top of chat-client.js.
// All user-provided text is rendered with text nodes (see dom.js); nothing is ever inserted as HTML.
import { ChatClient, ChatApiError, newClientMsgId } from './chat-client.js';
import { h, clear, avatar, formatTime, formatShort, formatFull, throttle, debounce } from './dom.js';

const $ = (id) => document.getElementById(id);
const lower = (s) => String(s ?? '').toLowerCase();

const client = new ChatClient();

const ui = {
  authView: $('auth-view'), authForm: $('auth-form'), authTitle: $('auth-title'), authUser: $('auth-username'),
  authPass: $('auth-password'), authFull: $('auth-fullname'), authEmail: $('auth-email'), registerFields: $('register-fields'),
  authError: $('auth-error'), authSubmit: $('auth-submit'), authToggle: $('auth-toggle'),
  appView: $('app-view'), profileButton: $('profile-button'), meAvatar: $('me-avatar'), meName: $('me-name'),
  connStatus: $('conn-status'), notifyButton: $('notify-button'),
  searchInput: $('search-input'), searchPanel: $('search-panel'), searchStatus: $('search-status'), searchResults: $('search-results'),
  convList: $('conv-list'), convEmpty: $('conv-empty'),
  placeholder: $('chat-placeholder'), pane: $('chat-pane'), back: $('back-button'), chatAvatar: $('chat-avatar'),
  chatName: $('chat-name'), chatSub: $('chat-sub'), scroll: $('messages-scroll'), loadEarlier: $('load-earlier'),
  historyStart: $('history-start'), messages: $('messages'), newMarker: $('new-marker'), typing: $('typing'),
  composer: $('composer'), input: $('composer-input'), sendButton: $('send-button'),
  dialog: $('profile-dialog'), profileForm: $('profile-form'), profileAvatar: $('profile-avatar'), avatarInput: $('avatar-input'),
  avatarRemove: $('avatar-remove'), profileUsername: $('profile-username'), profileFull: $('profile-fullname'),
  profileEmail: $('profile-email'), profileStatus: $('profile-status'), profileClose: $('profile-close'), logout: $('logout-button'),
};

/**
 * A conversation in the sidebar. Drafts (a person picked from search, no message yet) have no id.
 * @typedef {{conversation_id: number|null, other_user: object, last_message: object|null, unread_count: number,
 *   created_at: number, draft: boolean, peerReadUpTo: number, pending: Array<object>}} Conv
 */
const state = {
  me: null,
  /** @type {Map<number, Conv>} */ convs: new Map(),
  /** @type {Map<string, Conv>} by lower-cased username of the other participant, drafts included */ byUser: new Map(),
  online: new Map(),
  /** @type {Conv|null} */ open: null,
  msgEls: new Map(),      // message_id -> <li> in the open conversation
  pendingEls: new Map(),  // client_msg_id -> <li> in the open conversation
  oldestId: 0,
  reachedStart: false,
  loadingHistory: false,
  historyToken: 0,
  typingTimer: 0,
  firstConnect: true,
  registerMode: false,
};

// ------------------------------------------------------------------ auth

function showAuth(message = '') {
  ui.appView.hidden = true;
  ui.dialog.open && ui.dialog.close();
  ui.authView.hidden = false;
  ui.authError.textContent = message;
  ui.authPass.value = '';
  ui.authUser.focus();
}

function setRegisterMode(on) {
  state.registerMode = on;
  ui.registerFields.hidden = !on;
  ui.authTitle.textContent = on ? 'Create your account' : 'Log in to your account';
  ui.authSubmit.textContent = on ? 'Create account' : 'Log in';
  ui.authToggle.textContent = on ? 'Already have an account? Log in' : 'New here? Create an account';
  ui.authPass.autocomplete = on ? 'new-password' : 'current-password';
  ui.authError.textContent = '';
}

const authMessages = {
  invalid_credentials: 'Wrong username or password.',
  username_taken: 'That username is taken. Pick another one.',
  network: 'The server cannot be reached. Try again.',
};

ui.authToggle.addEventListener('click', () => setRegisterMode(!state.registerMode));
ui.authForm.addEventListener('submit', async (e) => {
  e.preventDefault();
  const username = ui.authUser.value.trim();
  const password = ui.authPass.value;
  if (!/^[A-Za-z0-9_.-]{3,32}$/.test(username)) { ui.authError.textContent = 'A username is 3-32 letters, digits, _ . or -.'; ui.authUser.focus(); return; }
  if (password.length < 8) { ui.authError.textContent = 'A password has at least 8 characters.'; ui.authPass.focus(); return; }
  ui.authSubmit.disabled = true;
  ui.authError.textContent = '';
  try {
    if (state.registerMode) {
      await client.register({ username, password, full_name: ui.authFull.value.trim(), email: ui.authEmail.value.trim() });
    } else {
      await client.login(username, password);
    }
    await startApp();
  } catch (err) {
    ui.authError.textContent = authMessages[err?.code] ?? err?.message ?? 'Something went wrong.';
  } finally {
    ui.authSubmit.disabled = false;
  }
});

client.addEventListener('unauthorized', () => { resetState(); showAuth('Your session ended. Please log in again.'); });

function resetState() {
  state.me = null;
  state.convs.clear();
  state.byUser.clear();
  state.online.clear();
  state.open = null;
  state.firstConnect = true;
  clear(ui.convList);
  closeChatPane();
}

// ------------------------------------------------------------------ start

async function startApp() {
  state.me = client.user ?? await client.me();
  ui.authView.hidden = true;
  ui.appView.hidden = false;
  renderMe();
  updateNotifyButton();
  // Socket first, then the state over HTTP: whatever happens after the socket is registered comes on it, and the
  // sync cursor moves only with socket frames (protocol.md, "Writing a client"). Should the socket not come up,
  // the sidebar loads anyway after a few seconds.
  client.connect();
  await Promise.race([client.whenConnected(), new Promise((resolve) => setTimeout(resolve, 5000))]);
  try {
    const { conversations } = await client.conversations();
    mergeConversations(conversations);
  } catch (err) {
    if (err?.code === 'unauthorized') return;
  }
  ui.searchInput.focus();
}

function renderMe() {
  const me = state.me;
  clear(ui.meAvatar);
  ui.meAvatar.append(avatar(me));
  ui.meName.textContent = me.full_name || me.username;
  ui.profileButton.title = `Your profile (${me.username})`;
}

// ------------------------------------------------------------------ connection status

client.addEventListener('status', (e) => {
  const { state: s, delay } = e.detail;
  ui.connStatus.dataset.state = s;
  ui.connStatus.textContent = s === 'open' ? 'Online'
    : s === 'connecting' ? 'Connecting…'
    : s === 'waiting' ? `Reconnecting in ${Math.max(1, Math.round(delay / 1000))} s…`
    : 'Offline';
  if (s !== 'open') {
    // Presence is unknown while disconnected; the server sends fresh presence frames after reconnecting.
    if (state.online.size) { state.online.clear(); renderSidebar(); renderChatHeader(); }
  }
});

client.addEventListener('synced', () => {
  // After a reconnect, read receipts and unread counts may have changed meanwhile: take the server's view.
  if (!state.firstConnect) refreshConversations();
  state.firstConnect = false;
});

// ------------------------------------------------------------------ conversations (sidebar)

function lastId(conv) { return conv.last_message?.message_id ?? 0; }

function newConv(fields) {
  return { conversation_id: null, other_user: null, last_message: null, unread_count: 0, created_at: 0, draft: false, peerReadUpTo: 0, pending: [], ...fields };
}

/** Finds the conversation for an id, adopting a draft with the same partner, or creates it. */
function convFor(conversationId, otherUser) {
  let conv = state.convs.get(conversationId);
  if (conv) return { conv, created: false };
  conv = state.byUser.get(lower(otherUser.username));
  const created = !conv;
  if (!conv) conv = newConv({ other_user: otherUser, created_at: Math.floor(Date.now() / 1000) });
  conv.conversation_id = conversationId;
  conv.draft = false;
  state.convs.set(conversationId, conv);
  state.byUser.set(lower(otherUser.username), conv);
  return { conv, created };
}

function mergeConversations(list) {
  for (const c of list) {
    const { conv } = convFor(c.conversation_id, c.other_user);
    conv.other_user = c.other_user;
    conv.created_at = c.created_at;
    if (c.last_message && c.last_message.message_id >= lastId(conv)) {
      conv.last_message = c.last_message;
      conv.unread_count = c.unread_count;
    }
    if (c.last_message && lower(c.last_message.sender) === lower(state.me.username) && c.last_message.is_read)
      conv.peerReadUpTo = Math.max(conv.peerReadUpTo, c.last_message.message_id);
  }
  renderSidebar();
  if (state.open) { renderChatHeader(); updateReceipts(); markOpenReadIfVisible(); }
}

async function refreshConversations() {
  try { mergeConversations((await client.conversations()).conversations); } catch { /* next refresh will do */ }
}
const refreshConversationsSoon = debounce(refreshConversations, 250);

function renderSidebar() {
  const focusedUser = document.activeElement?.closest?.('.conv-item')?.dataset.username;
  const list = [...state.convs.values()].filter((c) => !c.draft).sort((a, b) => lastId(b) - lastId(a) || b.created_at - a.created_at);
  clear(ui.convList);
  for (const conv of list) ui.convList.append(convItem(conv));
  ui.convEmpty.hidden = list.length > 0;
  if (focusedUser) ui.convList.querySelector(`.conv-item[data-username="${CSS.escape(focusedUser)}"]`)?.focus();
  const unread = list.reduce((n, c) => n + c.unread_count, 0);
  document.title = unread ? `(${unread}) Chat` : 'Chat';
}

function convItem(conv) {
  const other = conv.other_user;
  const name = other.full_name || other.username;
  const m = conv.last_message;
  const mine = m && lower(m.sender) === lower(state.me.username);
  const online = !!state.online.get(lower(other.username));
  const isOpen = state.open === conv;
  const preview = m ? (mine ? `You: ${m.message}` : m.message) : 'No messages yet';
  const label = `${name}${online ? ', online' : ''}${conv.unread_count ? `, ${conv.unread_count} unread` : ''}`;
  const button = h('button', {
    type: 'button', class: `conv-item${conv.unread_count ? ' has-unread' : ''}`, 'aria-current': isOpen ? 'true' : null,
    'aria-label': label, dataset: { conversationId: String(conv.conversation_id), username: other.username },
  },
  avatar(other, { online }),
  h('span', { class: 'conv-main' },
    h('span', { class: 'conv-top' },
      h('span', { class: 'conv-name' }, name),
      m ? h('time', { class: 'conv-time', datetime: new Date(m.timestamp * 1000).toISOString(), title: formatFull(m.timestamp) }, formatShort(m.timestamp)) : null),
    h('span', { class: 'conv-bottom' },
      h('span', { class: 'conv-preview' }, preview),
      conv.unread_count ? h('span', { class: 'badge', 'aria-hidden': 'true' }, String(conv.unread_count)) : null)));
  button.addEventListener('click', () => openConversation(conv));
  return h('li', {}, button);
}

// Arrow keys move between conversations.
ui.convList.addEventListener('keydown', (e) => {
  if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return;
  const items = [...ui.convList.querySelectorAll('.conv-item')];
  const i = items.indexOf(document.activeElement);
  if (i < 0) return;
  e.preventDefault();
  items[Math.max(0, Math.min(items.length - 1, i + (e.key === 'ArrowDown' ? 1 : -1)))].focus();
});

// ------------------------------------------------------------------ search

let searchAbort = null;
const runSearch = debounce(async (q) => {
  searchAbort?.abort();
  if (!q) { hideSearch(); return; }
  const abort = (searchAbort = new AbortController());
  ui.searchPanel.hidden = false;
  ui.searchStatus.textContent = 'Searching…';
  try {
    const results = await client.search(q, { limit: 20, signal: abort.signal });
    if (abort.signal.aborted) return;
    clear(ui.searchResults);
    for (const user of results) ui.searchResults.append(searchItem(user));
    ui.searchStatus.textContent = results.length ? `${results.length} ${results.length === 1 ? 'person' : 'people'} found` : `No one found for “${q}”.`;
  } catch (err) {
    if (err?.name === 'AbortError') return;
    ui.searchStatus.textContent = err?.code === 'network' ? 'The server cannot be reached.' : 'Search failed.';
  }
}, 250);

function searchItem(user) {
  const name = user.full_name || user.username;
  const button = h('button', { type: 'button', class: 'search-result', dataset: { username: user.username }, 'aria-label': `Message ${name} (${user.username})` },
    avatar(user, { online: !!state.online.get(lower(user.username)) }),
    h('span', { class: 'result-text' },
      h('span', { class: 'result-name' }, name),
      h('span', { class: 'result-username' }, `@${user.username}`)),
    h('span', { class: 'result-action', 'aria-hidden': 'true' }, 'Message'));
  button.addEventListener('click', () => startConversationWith(user));
  return h('li', {}, button);
}

function hideSearch() {
  ui.searchPanel.hidden = true;
  clear(ui.searchResults);
  ui.searchStatus.textContent = '';
}

ui.searchInput.addEventListener('input', () => runSearch(ui.searchInput.value.trim()));
ui.searchInput.addEventListener('keydown', (e) => {
  if (e.key === 'Escape') { ui.searchInput.value = ''; runSearch.cancel(); hideSearch(); }
  else if (e.key === 'ArrowDown') { const first = ui.searchResults.querySelector('button'); if (first) { e.preventDefault(); first.focus(); } }
  else if (e.key === 'Enter') { e.preventDefault(); ui.searchResults.querySelector('button')?.click(); }
});
ui.searchResults.addEventListener('keydown', (e) => {
  const items = [...ui.searchResults.querySelectorAll('button')];
  const i = items.indexOf(document.activeElement);
  if (e.key === 'ArrowDown' && i < items.length - 1) { e.preventDefault(); items[i + 1].focus(); }
  else if (e.key === 'ArrowUp') { e.preventDefault(); (i > 0 ? items[i - 1] : ui.searchInput).focus(); }
  else if (e.key === 'Escape') { ui.searchInput.value = ''; hideSearch(); ui.searchInput.focus(); }
});

function startConversationWith(user) {
  let conv = state.byUser.get(lower(user.username));
  if (!conv) {
    conv = newConv({ other_user: user, draft: true, created_at: Math.floor(Date.now() / 1000) });
    state.byUser.set(lower(user.username), conv);
  } else {
    conv.other_user = { ...conv.other_user, ...user };
  }
  ui.searchInput.value = '';
  hideSearch();
  openConversation(conv);
}

// ------------------------------------------------------------------ chat window

function openConversation(conv) {
  state.open = conv;
  state.msgEls.clear();
  state.pendingEls.clear();
  state.oldestId = 0;
  state.reachedStart = !conv.conversation_id;
  state.historyToken++;
  state.loadingHistory = false;
  ui.loadEarlier.disabled = false;
  clear(ui.messages);
  ui.newMarker.hidden = true;
  ui.typing.textContent = '';
  ui.placeholder.hidden = true;
  ui.pane.hidden = false;
  document.body.classList.add('chat-open');
  renderChatHeader();
  renderSidebar();
  for (const entry of conv.pending) appendPending(entry);
  updateHistoryControls();
  if (conv.conversation_id) loadHistory(true);
  ui.input.value = '';
  autoGrow();
  ui.input.focus();
}

function closeChatPane() {
  state.open = null;
  state.historyToken++;
  ui.pane.hidden = true;
  ui.placeholder.hidden = false;
  document.body.classList.remove('chat-open');
}

ui.back.addEventListener('click', () => {
  const user = state.open?.other_user?.username;
  closeChatPane();
  renderSidebar();
  const item = user && ui.convList.querySelector(`.conv-item[data-username="${CSS.escape(user)}"]`);
  (item || ui.searchInput).focus();
});

function renderChatHeader() {
  const conv = state.open;
  if (!conv) return;
  const other = conv.other_user;
  const online = state.online.get(lower(other.username));
  clear(ui.chatAvatar);
  ui.chatAvatar.append(avatar(other, { online: !!online }));
  ui.chatName.textContent = other.full_name || other.username;
  ui.chatSub.textContent = `@${other.username}${online ? ' · online' : ''}`;
}

function updateHistoryControls() {
  const conv = state.open;
  ui.loadEarlier.hidden = !conv || !conv.conversation_id || state.reachedStart || state.msgEls.size === 0;
  ui.historyStart.hidden = !conv || !state.reachedStart;
  ui.historyStart.textContent = conv?.conversation_id ? 'This is the start of your conversation.'
    : `Say hello to ${conv?.other_user.full_name || conv?.other_user.username || ''}.`;
}

const PAGE = 50;

async function loadHistory(initial) {
  const conv = state.open;
  if (!conv?.conversation_id || state.loadingHistory || (!initial && state.reachedStart)) return;
  const token = state.historyToken;
  state.loadingHistory = true;
  ui.loadEarlier.disabled = true;
  try {
    const messages = await client.history(conv.conversation_id, { before: initial ? undefined : state.oldestId, limit: PAGE });
    if (token !== state.historyToken) return;
    const before = ui.scroll.scrollHeight - ui.scroll.scrollTop;
    const me = lower(state.me.username);
    for (const m of messages) {
      if (lower(m.sender) === me && m.is_read) conv.peerReadUpTo = Math.max(conv.peerReadUpTo, m.message_id);
      insertMessage({ ...m, direction: lower(m.sender) === me ? 'out' : 'in' });
    }
    if (messages.length) state.oldestId = Math.min(...messages.map((m) => m.message_id), state.oldestId || Infinity);
    state.reachedStart = messages.length < PAGE;
    updateHistoryControls();
    updateReceipts();
    if (initial) scrollToBottom();
    else ui.scroll.scrollTop = ui.scroll.scrollHeight - before; // keep the view where it was
    markOpenReadIfVisible();
  } catch (err) {
    if (token === state.historyToken) {
      ui.historyStart.hidden = false;
      ui.historyStart.textContent = `Could not load messages (${err?.message ?? err}).`;
    }
  } finally {
    if (token === state.historyToken) { state.loadingHistory = false; ui.loadEarlier.disabled = false; }
  }
}

ui.loadEarlier.addEventListener('click', () => loadHistory(false));
ui.scroll.addEventListener('scroll', () => {
  if (ui.scroll.scrollTop < 80 && !state.reachedStart && state.msgEls.size) loadHistory(false);
  if (isAtBottom()) ui.newMarker.hidden = true;
});
ui.newMarker.addEventListener('click', () => { scrollToBottom(); ui.newMarker.hidden = true; ui.input.focus(); });

function isAtBottom() {
  return ui.scroll.scrollHeight - ui.scroll.scrollTop - ui.scroll.clientHeight < 48;
}

function scrollToBottom() {
  ui.scroll.scrollTop = ui.scroll.scrollHeight;
}

const STATUS_TEXT = { pending: 'Sending…', sent: 'Sent', read: 'Read', failed: 'Not sent' };

function messageElement({ id, clientMsgId, text, timestamp, own, status }) {
  const li = h('li', { class: `msg ${own ? 'own' : 'their'}`, dataset: id ? { id: String(id) } : {} });
  if (clientMsgId) li.dataset.clientId = clientMsgId;
  const meta = h('span', { class: 'meta' },
    h('time', { datetime: new Date(timestamp * 1000).toISOString(), title: formatFull(timestamp) }, formatTime(timestamp)));
  li.append(h('div', { class: 'bubble' }, h('p', { class: 'text' }, text), meta));
  if (own) { meta.append(h('span', { class: 'status' })); setStatus(li, status); }
  return li;
}

function setStatus(li, status) {
  li.dataset.status = status;
  const el = li.querySelector('.status');
  if (el) { el.textContent = STATUS_TEXT[status]; el.title = STATUS_TEXT[status]; }
  li.querySelector('.retry')?.remove();
  if (status === 'failed') {
    const retry = h('button', { type: 'button', class: 'retry' }, 'Retry');
    retry.addEventListener('click', () => retrySend(li.dataset.clientId));
    li.querySelector('.meta').append(retry);
  }
}

/** Inserts a stored message in id order (pending ones stay at the end); ignores one already shown. */
function insertMessage(m) {
  if (state.msgEls.has(m.message_id)) return null;
  let li = m.client_msg_id ? state.pendingEls.get(m.client_msg_id) : null;
  const own = m.direction === 'out';
  if (li) {
    state.pendingEls.delete(m.client_msg_id);
    li.dataset.id = String(m.message_id);
    setStatus(li, 'sent');
  } else {
    li = messageElement({ id: m.message_id, text: m.message, timestamp: m.timestamp, own, status: 'sent' });
  }
  state.msgEls.set(m.message_id, li);
  // Walk back from the end past pending messages and newer ones.
  let after = ui.messages.lastElementChild;
  while (after && (!after.dataset.id || Number(after.dataset.id) > m.message_id || after === li)) after = after.previousElementSibling;
  if (after) after.after(li); else ui.messages.prepend(li);
  if (own && m.message_id <= (state.open?.peerReadUpTo ?? 0)) setStatus(li, 'read');
  return li;
}

function appendPending(entry) {
  const li = messageElement({ clientMsgId: entry.clientMsgId, text: entry.text, timestamp: entry.timestamp, own: true, status: entry.status });
  state.pendingEls.set(entry.clientMsgId, li);
  ui.messages.append(li);
}

function updateReceipts() {
  const conv = state.open;
  if (!conv) return;
  for (const [id, li] of state.msgEls) if (li.dataset.status === 'sent' && id <= conv.peerReadUpTo) setStatus(li, 'read');
}

// ------------------------------------------------------------------ sending

function autoGrow() {
  ui.input.style.height = 'auto';
  ui.input.style.height = `${Math.min(ui.input.scrollHeight, 160)}px`;
}

const sendTyping = throttle((receiver) => client.typing(receiver), 2500);

ui.input.addEventListener('input', () => {
  autoGrow();
  const conv = state.open;
  if (conv?.conversation_id && ui.input.value.trim()) sendTyping(conv.other_user.username);
});
ui.input.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); ui.composer.requestSubmit(); }
});
ui.composer.addEventListener('submit', (e) => {
  e.preventDefault();
  const conv = state.open;
  const text = ui.input.value;
  if (!conv || !text.trim()) return;
  ui.input.value = '';
  autoGrow();
  sendTyping.reset(); // typing the next message is announced at once
  const entry = { clientMsgId: newClientMsgId(), text, receiver: conv.other_user.username, timestamp: Math.floor(Date.now() / 1000), status: 'pending' };
  conv.pending.push(entry);
  appendPending(entry);
  scrollToBottom();
  ui.newMarker.hidden = true;
  transmit(conv, entry);
});

const sendErrors = {
  rate_limited: 'Too many messages; wait a moment.',
  message_too_long: 'Message too long.',
  unknown_user: 'This user no longer exists.',
  network: 'No connection.',
  timeout: 'No answer from the server.',
  closed: 'Disconnected.',
};

function transmit(conv, entry) {
  entry.status = 'pending';
  client.send(entry.receiver, entry.text, { clientMsgId: entry.clientMsgId }).then((ack) => {
    conv.pending = conv.pending.filter((p) => p !== entry);
    const li = state.pendingEls.get(entry.clientMsgId);
    if (conv.draft || !conv.conversation_id) { convFor(ack.conversation_id, conv.other_user); renderSidebar(); }
    if (li && state.open === conv) {
      // The message_sent echo did not arrive (yet): the ack is enough to show it as stored.
      insertMessage({ message_id: ack.message_id, conversation_id: ack.conversation_id, message: entry.text, timestamp: ack.timestamp,
        sender: state.me.username, receiver: entry.receiver, direction: 'out', client_msg_id: entry.clientMsgId });
    }
    if (state.open === conv) updateHistoryControls();
  }, (err) => {
    entry.status = 'failed';
    entry.error = err instanceof ChatApiError ? err.code : 'network';
    const li = state.pendingEls.get(entry.clientMsgId);
    if (li) {
      setStatus(li, 'failed');
      li.querySelector('.status').textContent = `Not sent${sendErrors[entry.error] ? ` (${sendErrors[entry.error]})` : ''}`;
    }
  });
}

function retrySend(clientMsgId) {
  const conv = state.open;
  const entry = conv?.pending.find((p) => p.clientMsgId === clientMsgId);
  if (!entry) return;
  const li = state.pendingEls.get(clientMsgId);
  if (li) setStatus(li, 'pending');
  transmit(conv, entry);
}

// ------------------------------------------------------------------ live events

client.addEventListener('message', (e) => {
  const m = e.detail;
  const out = m.direction === 'out';
  const other = out
    ? { username: m.receiver, full_name: m.receiver_full_name || m.receiver, email: m.receiver_email ?? '', profile_picture: null }
    : { username: m.sender, full_name: m.sender_full_name || m.sender, email: m.sender_email ?? '', profile_picture: null };
  const { conv, created } = convFor(m.conversation_id, other);
  if (created) refreshConversationsSoon(); // fetch the partner's profile picture
  if (m.message_id > lastId(conv)) conv.last_message = { ...m, is_read: false };
  if (out && m.client_msg_id) conv.pending = conv.pending.filter((p) => p.clientMsgId !== m.client_msg_id);

  const isOpen = state.open === conv;
  if (!out) {
    if (isOpen && isVisible()) client.markRead(conv.conversation_id, m.message_id).catch(() => {});
    else conv.unread_count++;
    if (!isOpen || document.hidden) notify(conv, m);
    if (isOpen) ui.typing.textContent = '';
  }
  if (isOpen) {
    const wasAtBottom = isAtBottom();
    insertMessage(m);
    if (state.reachedStart && ui.historyStart.hidden === false) updateHistoryControls();
    if (wasAtBottom || (out && m.client_msg_id)) scrollToBottom();
    else if (!out) ui.newMarker.hidden = false;
  }
  renderSidebar();
});

client.addEventListener('conversation_refresh', () => refreshConversationsSoon());

client.addEventListener('messages_read', (e) => {
  const { conversation_id: id, reader, up_to_message_id: upTo } = e.detail;
  const conv = state.convs.get(id);
  if (!conv) { refreshConversationsSoon(); return; }
  if (lower(reader) === lower(state.me.username)) {
    // Read here or on another device: clear the badge (or ask how much is left).
    if (upTo >= lastId(conv)) conv.unread_count = 0; else refreshConversationsSoon();
  } else {
    conv.peerReadUpTo = Math.max(conv.peerReadUpTo, upTo);
    if (conv.last_message && conv.last_message.message_id <= upTo) conv.last_message.is_read = true;
    if (state.open === conv) updateReceipts();
  }
  renderSidebar();
});

client.addEventListener('typing', (e) => {
  const { conversation_id: id, sender, sender_full_name: name } = e.detail;
  // Typing frames only come from an open socket, so the sender is online right now.
  if (!state.online.get(lower(sender))) {
    state.online.set(lower(sender), true);
    renderSidebar();
    if (state.open && lower(state.open.other_user.username) === lower(sender)) renderChatHeader();
  }
  if (state.open?.conversation_id !== id) return;
  ui.typing.textContent = `${name || sender} is typing…`;
  clearTimeout(state.typingTimer);
  state.typingTimer = setTimeout(() => { ui.typing.textContent = ''; }, 4000);
});

client.addEventListener('presence', (e) => {
  state.online.set(lower(e.detail.username), !!e.detail.online);
  renderSidebar();
  if (state.open && lower(state.open.other_user.username) === lower(e.detail.username)) renderChatHeader();
});

// ------------------------------------------------------------------ read state

function isVisible() {
  return document.visibilityState === 'visible';
}

function markOpenReadIfVisible() {
  const conv = state.open;
  if (!conv?.conversation_id || !isVisible() || conv.unread_count === 0) return;
  conv.unread_count = 0; // the messages_read frame confirms
  client.markRead(conv.conversation_id).catch(() => {});
  renderSidebar();
}

document.addEventListener('visibilitychange', markOpenReadIfVisible);
window.addEventListener('focus', markOpenReadIfVisible);

// ------------------------------------------------------------------ notifications

const canNotify = 'Notification' in window;

function updateNotifyButton() {
  ui.notifyButton.hidden = !canNotify || Notification.permission !== 'default';
}

let askedPermission = false;
/** Asked on a user gesture only: clicking the bell. */
function requestNotificationPermissionOnce() {
  if (!canNotify || askedPermission || Notification.permission !== 'default') return;
  askedPermission = true;
  Notification.requestPermission().then(updateNotifyButton, updateNotifyButton);
}

ui.notifyButton.addEventListener('click', () => { askedPermission = false; requestNotificationPermissionOnce(); });

function notify(conv, m) {
  if (!canNotify || Notification.permission !== 'granted') return;
  try {
    const body = m.message.length > 200 ? `${m.message.slice(0, 200)}…` : m.message;
    const n = new Notification(m.sender_full_name || m.sender, {
      body, tag: `conversation-${conv.conversation_id}`, icon: conv.other_user.profile_picture?.startsWith('/') ? conv.other_user.profile_picture : undefined,
    });
    n.addEventListener('click', () => { window.focus(); openConversation(conv); n.close(); });
  } catch { /* some platforms only allow notifications from a service worker */ }
}

// ------------------------------------------------------------------ profile panel

ui.profileButton.addEventListener('click', () => {
  fillProfile();
  ui.profileStatus.textContent = '';
  ui.dialog.showModal();
  ui.profileFull.focus();
});
ui.profileClose.addEventListener('click', () => ui.dialog.close());

function fillProfile() {
  const me = state.me;
  clear(ui.profileAvatar);
  ui.profileAvatar.append(avatar(me, { size: 'large' }));
  ui.profileUsername.textContent = `@${me.username}`;
  ui.profileFull.value = me.full_name === me.username ? '' : me.full_name;
  ui.profileEmail.value = me.email ?? '';
  ui.avatarRemove.disabled = !me.profile_picture;
}

const avatarErrors = {
  too_large: 'That picture is too large (at most 1 MiB).',
  unsupported_media_type: 'Use a PNG, JPEG, GIF or WebP picture.',
};

ui.avatarInput.addEventListener('change', async () => {
  const file = ui.avatarInput.files?.[0];
  ui.avatarInput.value = '';
  if (!file) return;
  ui.profileStatus.textContent = 'Uploading…';
  try {
    state.me = await client.uploadAvatar(file);
    fillProfile();
    renderMe();
    ui.profileStatus.textContent = 'Picture updated.';
  } catch (err) {
    ui.profileStatus.textContent = avatarErrors[err?.code] ?? `Upload failed: ${err?.message ?? err}`;
  }
});

ui.avatarRemove.addEventListener('click', async () => {
  try {
    state.me = await client.deleteAvatar();
    fillProfile();
    renderMe();
    ui.profileStatus.textContent = 'Picture removed.';
  } catch (err) {
    ui.profileStatus.textContent = `Could not remove it: ${err?.message ?? err}`;
  }
});

ui.profileForm.addEventListener('submit', async (e) => {
  e.preventDefault();
  try {
    state.me = await client.updateMe({ full_name: ui.profileFull.value.trim(), email: ui.profileEmail.value.trim() });
    fillProfile();
    renderMe();
    ui.profileStatus.textContent = 'Saved.';
  } catch (err) {
    ui.profileStatus.textContent = err?.code === 'bad_request' ? 'Check the name (at most 100 characters) and the email address.' : `Could not save: ${err?.message ?? err}`;
  }
});

ui.logout.addEventListener('click', async () => {
  await client.logout();
  resetState();
  ui.dialog.close();
  showAuth('You are logged out.');
});

// ------------------------------------------------------------------ boot

(async function boot() {
  setRegisterMode(false);
  if (!client.token) { showAuth(); return; }
  try {
    await client.me();
    await startApp();
  } catch (err) {
    showAuth(err?.code === 'network' ? 'The server cannot be reached.' : '');
  }
})();
