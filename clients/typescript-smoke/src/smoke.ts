// Smoke test of a client generated from the server's OpenAPI document, used without hand edits:
// register -> search with `q` -> send -> list conversations -> history with `before`/`limit` -> read -> avatar upload,
// plus the typed problem details of a refused call. Usage: node dist/smoke.js http://127.0.0.1:PORT
// Prints one JSON line with what it saw (the C# test cross-checks it against the server) and exits 0,
// or throws (exit 1) at the first answer that is not what the contract says.
import createClient from "openapi-fetch";
import type { components, paths } from "./schema.js";

type Message = components["schemas"]["MessageDto"];
type Problem = components["schemas"]["ProblemDetails"];

const argument = process.argv[2];
if (!argument) throw new Error("usage: node dist/smoke.js BASE_URL");
const baseUrl: string = argument;

function check(condition: boolean, what: string): asserts condition {
  if (!condition) throw new Error(`smoke check failed: ${what}`);
}

// Compile-time checks: ids are plain numbers and error codes a closed union, so `tsc --noEmit` fails if the
// document types them `integer | string` again or drops `code`.
const idIsNumber: Message["message_id"] extends number ? true : never = true;
const codeIsTyped: Problem["code"] extends string ? true : never = true;
check(idIsNumber && codeIsTyped, "type-level checks");

const anonymous = createClient<paths>({ baseUrl });
const suffix = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`.slice(-10);
const aliceName = `ts_alice_${suffix}`;
const bobName = `ts_bob_${suffix}`;

async function register(username: string, fullName: string) {
  const { data, error, response } = await anonymous.POST("/api/auth/register", {
    body: { username, password: "correct horse battery", full_name: fullName, email: `${username}@example.com` },
  });
  check(response.status === 201 && data !== undefined, `register ${username}: ${response.status} ${JSON.stringify(error)}`);
  check(data.user.username === username, "register answers the user");
  return createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${data.token}` } });
}

const alice = await register(aliceName, "Alice Typed");
const bob = await register(bobName, "Bob Typed");

// Search with q and limit (query parameters the generated types must accept).
const search = await bob.GET("/api/users/search", { params: { query: { q: aliceName, limit: 5 } } });
check(search.response.status === 200 && search.data !== undefined, `search: ${search.response.status}`);
const found = search.data.results.map((u) => u.username);
check(found.length === 1 && found[0] === aliceName, `search finds alice only: ${JSON.stringify(found)}`);

// A refused call answers typed problem details with a code.
const refused = await bob.GET("/api/users/search", { params: { query: { q: aliceName, limit: 0 } } });
check(refused.response.status === 400 && refused.error !== undefined, `limit 0 is 400: ${refused.response.status}`);
check(refused.error.code === "bad_request" && refused.error.status === 400, `limit 0 problem: ${JSON.stringify(refused.error)}`);
const noToken = await anonymous.GET("/api/conversations", { params: { query: { limit: 1 } } });
check(noToken.response.status === 401 && noToken.error?.code === "unauthorized", `no token is 401 unauthorized: ${noToken.response.status}`);

// Send four messages from bob to alice.
const sent: number[] = [];
for (const text of ["Hello", "How are you?", "Third", "Fourth"]) {
  const { data, response } = await bob.POST("/api/messages", { body: { receiver: aliceName, message: text, client_msg_id: `${suffix}-${text}` } });
  check(response.status === 201 && data !== undefined, `send: ${response.status}`);
  check(typeof data.message_id === "number" && Number.isInteger(data.message_id), `message_id is an integer: ${JSON.stringify(data)}`);
  check(data.is_new_conversation === (sent.length === 0), "is_new_conversation only on the first message");
  sent.push(data.message_id);
}
const [, second, third, newest] = sent;
check(second !== undefined && third !== undefined && newest !== undefined, "four messages sent");

// Alice's conversation list, with limit.
const list = await alice.GET("/api/conversations", { params: { query: { limit: 10 } } });
check(list.response.status === 200 && list.data !== undefined, `list: ${list.response.status}`);
const conversation = list.data.conversations[0];
check(list.data.conversations.length === 1 && conversation !== undefined, "alice has one conversation");
check(conversation.other_user.username === bobName, "the other user is bob");
check(conversation.unread_count === 4, `unread_count 4: ${conversation.unread_count}`);
check(conversation.last_message?.message_id === newest, "last_message is the newest");
const conversationId: number = conversation.conversation_id;

// History before the newest message, two at a time: the two before it, ascending.
const history = await alice.GET("/api/conversations/{id}/messages", {
  params: { path: { id: conversationId }, query: { before: newest, limit: 2 } },
});
check(history.response.status === 200 && history.data !== undefined, `history: ${history.response.status}`);
const page = history.data.messages.map((m) => m.message_id);
check(JSON.stringify(page) === JSON.stringify([second, third]), `history page: ${JSON.stringify(page)}`);

// Mark read up to the second message.
const read = await alice.POST("/api/conversations/{id}/read", {
  params: { path: { id: conversationId } },
  body: { up_to_message_id: second },
});
check(read.response.status === 200 && read.data !== undefined, `read: ${read.response.status}`);
check(read.data.unread_count === 2 && read.data.up_to_message_id === second, `read: ${JSON.stringify(read.data)}`);

// Avatar upload: raw image bytes (typed as a string by openapi-typescript for `format: binary`), sent as they are.
const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3, 4, 5, 6, 7, 8]);
const avatar = await alice.PUT("/api/users/me/avatar", {
  body: png as unknown as string,
  bodySerializer: (bytes) => bytes,
  headers: { "Content-Type": "image/png" },
});
check(avatar.response.status === 200 && avatar.data !== undefined, `avatar upload: ${avatar.response.status} ${JSON.stringify(avatar.error)}`);
check(typeof avatar.data.profile_picture === "string" && avatar.data.profile_picture.startsWith(`/api/users/${aliceName}/avatar?v=`), `profile_picture: ${avatar.data.profile_picture}`);
const stored = new Uint8Array(await (await fetch(new URL(avatar.data.profile_picture, baseUrl))).arrayBuffer());
check(stored.length === png.length && stored.every((b, i) => b === png[i]), "the avatar comes back byte for byte");

console.log(JSON.stringify({ alice: aliceName, bob: bobName, conversation_id: conversationId, sent, history_page: page, unread_after_read: read.data.unread_count }));
