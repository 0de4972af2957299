using Chat.Tests.Infrastructure;
using Dapper;

namespace Chat.Tests.Storage;

/// <summary>
/// <c>sync</c> and <c>connected.last_message_id</c> against their definition (contract, section 3): on a random history
/// of many conversations of very different lengths, every answer must be the user's messages, sent or received, after
/// the given id, in id order, at most the limit, with <c>has_more</c> exactly when more remain.
/// </summary>
[BothStores]
public sealed class SyncDefinitionTests
{
    private ChatApp _app = null!;
    private readonly List<(long Id, long Sender, long Receiver)> _messages = [];
    private long[] _users = [];

    [OneTimeSetUp]
    public async Task FillARandomHistory()
    {
        _app = await ChatApp.StartAsync(Transport.TestHost);
        var names = Enumerable.Range(0, 9).Select(i => $"user{i}").ToArray();
        foreach (var name in names) await _app.RegisterAsync(name);
        await using var db = _app.OpenDatabase();
        _users = (await db.QueryAsync<long>("SELECT id FROM users ORDER BY id")).ToArray();

        // user0 talks to everyone, a lot to user1 (a conversation far longer than a page); the others now and then.
        var random = new Random(20261201);
        var conversations = new Dictionary<(long, long), long>();
        using var tx = db.BeginTransaction();
        for (var i = 0; i < 600; i++)
        {
            var sender = _users[random.Next(10) < 6 ? 0 : random.Next(_users.Length)];
            var receiver = random.Next(10) < 4 && sender != _users[1] ? _users[1] : _users[random.Next(_users.Length)];
            if (receiver == sender) receiver = sender == _users[0] ? _users[2] : _users[0];
            var pair = sender < receiver ? (sender, receiver) : (receiver, sender);
            var isNew = !conversations.TryGetValue(pair, out var conversation);
            if (isNew)
            {
                conversation = await db.ExecuteScalarAsync<long>(
                    "INSERT INTO conversations (user_a, user_b, created_at) VALUES (@a, @b, 0) RETURNING id", new { a = pair.Item1, b = pair.Item2 }, tx);
                conversations[pair] = conversation;
                await db.ExecuteAsync(
                    "INSERT INTO conversation_members (user_id, conversation_id, other_user_id) VALUES (@a, @c, @b), (@b, @c, @a)",
                    new { a = pair.Item1, b = pair.Item2, c = conversation }, tx);
            }
            var id = await db.ExecuteScalarAsync<long>(
                """
                INSERT INTO messages (conversation_id, sender_id, receiver_id, body, created_at, is_new_conversation)
                VALUES (@conversation, @sender, @receiver, 'x', 0, @isNew) RETURNING id
                """, new { conversation, sender, receiver, isNew = isNew ? 1 : 0 }, tx);
            await db.ExecuteAsync(
                "UPDATE conversation_members SET last_message_id = @id WHERE conversation_id = @conversation", new { id, conversation }, tx);
            _messages.Add((id, sender, receiver));
        }
        tx.Commit();
    }

    [OneTimeTearDown]
    public async Task TearDown() => await _app.DisposeAsync();

    private List<long> Expected(long user, long after, int limit) =>
        _messages.Where(m => (m.Sender == user || m.Receiver == user) && m.Id > after).Select(m => m.Id).Take(limit).ToList();

    [Test]
    public async Task EveryPageOfEveryUserIsTheUsersMessagesInIdOrder()
    {
        var store = _app.MessageStoreAt(long.MaxValue);
        var random = new Random(7);
        foreach (var user in _users)
        {
            var own = Expected(user, 0, int.MaxValue);
            // From the start, from inside the history (each user's own ids and others'), and from the end.
            var afters = new List<long> { 0, _messages[^1].Id };
            afters.AddRange(Enumerable.Range(0, 6).Select(_ => _messages[random.Next(_messages.Count)].Id));
            if (own.Count > 0) afters.Add(own[random.Next(own.Count)]);
            foreach (var after in afters)
            {
                foreach (var limit in new[] { 1, 2, 7, 50, 500, 1000 })
                {
                    var (messages, hasMore) = await store.SyncAsync(user, after, limit, CancellationToken.None);
                    var expected = Expected(user, after, limit);
                    Assert.That(messages.Select(m => m.Id), Is.EqualTo(expected), $"user {user} after {after} limit {limit}");
                    Assert.That(hasMore, Is.EqualTo(Expected(user, after, limit + 1).Count > limit), $"has_more: user {user} after {after} limit {limit}");
                    Assert.That(messages.All(m => m.Sender.Id == user || m.Receiver.Id == user), Is.True);
                }
            }
        }
    }

    [Test]
    public async Task PagingFromTheStartReplaysEachUsersWholeHistoryOnce()
    {
        var store = _app.MessageStoreAt(long.MaxValue);
        foreach (var user in _users)
        {
            var replayed = new List<long>();
            long after = 0;
            for (var pages = 0; pages < 1000; pages++)
            {
                var (messages, hasMore) = await store.SyncAsync(user, after, 13, CancellationToken.None);
                replayed.AddRange(messages.Select(m => m.Id));
                if (!hasMore) break;
                after = messages[^1].Id;
            }
            Assert.That(replayed, Is.EqualTo(Expected(user, 0, int.MaxValue)), $"user {user}");
        }
    }

    [Test]
    public async Task LastMessageIdIsTheUsersNewestMessage()
    {
        var store = _app.MessageStoreAt(long.MaxValue);
        foreach (var user in _users)
        {
            var own = Expected(user, 0, int.MaxValue);
            Assert.That(await store.LastMessageIdAsync(user, CancellationToken.None), Is.EqualTo(own.Count > 0 ? own[^1] : 0), $"user {user}");
        }
    }
}
