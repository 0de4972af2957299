// Small DOM helpers. Every piece of user text goes in through text nodes (textContent), never as HTML.

/**
 * Creates an element. `props.class` sets className, `props.dataset` sets data-*, other props are set as
 * attributes (strings) or properties (functions/booleans). Children: nodes, or strings inserted as text nodes.
 * @param {string} tag
 * @param {object} [props]
 * @param {...(Node|string|number|null|undefined|false)} children
 * @returns {HTMLElement}
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (value === true) el.setAttribute(key, '');
    else el.setAttribute(key, String(value));
  }
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Removes every child. */
export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
}

/** Up to two initials from a full name (or username). */
export function initials(name) {
  const words = String(name ?? '').trim().split(/[\s._-]+/).filter(Boolean);
  if (words.length === 0) return '?';
  const chars = words.length === 1 ? [...words[0]].slice(0, 2) : [[...words[0]][0], [...words[words.length - 1]][0]];
  return chars.join('').toUpperCase();
}

function colorIndex(username) {
  let hash = 0;
  for (const ch of String(username ?? '').toLowerCase()) hash = (hash * 31 + ch.codePointAt(0)) >>> 0;
  return hash % 8;
}

/** Only same-origin paths from the server are used as image sources. */
export function safeImagePath(url) {
  return typeof url === 'string' && url.startsWith('/') && !url.startsWith('//') ? url : null;
}

/**
 * An avatar: the profile picture when there is one, else coloured initials.
 * @param {{username: string, full_name?: string, profile_picture?: string|null}} user
 * @param {{online?: boolean, size?: 'small'|'large'}} [opts]
 */
export function avatar(user, opts = {}) {
  const src = safeImagePath(user?.profile_picture);
  const wrap = h('span', { class: `avatar${opts.size ? ' ' + opts.size : ''} av-c${colorIndex(user?.username)}`, 'aria-hidden': 'true' });
  if (src) {
    const img = h('img', { src, alt: '', loading: 'lazy', decoding: 'async' });
    img.addEventListener('error', () => { img.remove(); wrap.append(h('span', { class: 'initials' }, initials(user.full_name || user.username))); }, { once: true });
    wrap.append(img);
  } else {
    wrap.append(h('span', { class: 'initials' }, initials(user?.full_name || user?.username)));
  }
  // Only a known-online partner gets a dot: presence is reported for conversation partners, so "no dot" means
  // offline or not known yet.
  if (opts.online) wrap.append(h('span', { class: 'presence-dot online', title: 'online' }));
  return wrap;
}

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dayFmt = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' });
const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

/** Time for a message bubble. */
export function formatTime(unixSeconds) {
  return timeFmt.format(new Date(unixSeconds * 1000));
}

/** Short time for the sidebar: the time today, else the date. */
export function formatShort(unixSeconds) {
  const d = new Date(unixSeconds * 1000);
  const now = new Date();
  return d.toDateString() === now.toDateString() ? timeFmt.format(d) : dayFmt.format(d);
}

/** Full date and time (tooltips). */
export function formatFull(unixSeconds) {
  return fullFmt.format(new Date(unixSeconds * 1000));
}

/** Calls `fn` at most once per `ms` (leading edge); `.reset()` lets the next call through. */
export function throttle(fn, ms) {
  let last = 0;
  const wrapped = (...args) => {
    const now = Date.now();
    if (now - last < ms) return;
    last = now;
    fn(...args);
  };
  wrapped.reset = () => { last = 0; };
  return wrapped;
}

/** Calls `fn` `ms` after the last call. */
export function debounce(fn, ms) {
  let timer = 0;
  const wrapped = (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
  wrapped.cancel = () => clearTimeout(timer);
  return wrapped;
}
