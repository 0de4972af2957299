using Chat.Server.Storage;
using Chat.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Chat.Tests.Storage;

/// <summary>
/// On SQLite a committed message can still be lost until its fsync, so <c>connected.last_message_id</c> and <c>sync</c>
/// show nothing past the <see cref="StreamPosition"/>: these pin the position below committed messages and read the real
/// database through <see cref="MessageStore"/>.
/// </summary>
public sealed class StreamPositionReadTests
{
    private ChatApp _app = null!;
    private long _bob, _m1, _m2, _m3, _m4;

    [SetUp]
    public async Task SetUp()
    {
        _app = await ChatApp.StartAsync(Transport.TestHost);
        var alice = await _app.RegisterAsync("alice");
        var bob = await _app.RegisterAsync("bob");
        var carol = await _app.RegisterAsync("carol");
        _m1 = (await alice.SendAsync("bob", "m1")).Long("message_id");
        _m2 = (await carol.SendAsync("bob", "m2")).Long("message_id");
        _m3 = (await alice.SendAsync("bob", "m3")).Long("message_id");
        _m4 = (await bob.SendAsync("carol", "m4")).Long("message_id");
        _bob = (await _app.Services.GetRequiredService<IUserStore>().FindByUsernameAsync("bob", CancellationToken.None))!.Id;
    }

    [TearDown]
    public async Task TearDown() => await _app.DisposeAsync();

    [Test]
    public async Task LastMessageIdIsTheNewestDurableMessageOfTheUsersConversations()
    {
        Task<long> At(long position) => _app.MessageStoreAt(position).LastMessageIdAsync(_bob, CancellationToken.None);
        // Bob's newest durable message, sent or received, whatever is committed after it.
        var (atM1, atM2, atM3, atM4, atZero) = (await At(_m1), await At(_m2), await At(_m3), await At(_m4), await At(0));
        Assert.Multiple(() =>
        {
            Assert.That(atM1, Is.EqualTo(_m1));
            Assert.That(atM2, Is.EqualTo(_m2));
            Assert.That(atM3, Is.EqualTo(_m3));
            Assert.That(atM4, Is.EqualTo(_m4));
            Assert.That(atZero, Is.EqualTo(0));
        });
    }

    [Test]
    public async Task SyncReplaysOnlyDurableMessages()
    {
        async Task<List<long>> SyncIds(long position, long after)
        {
            var (messages, hasMore) = await _app.MessageStoreAt(position).SyncAsync(_bob, after, 10, CancellationToken.None);
            Assert.That(hasMore, Is.False);
            return messages.Select(m => m.Id).ToList();
        }
        var (toM2, m1ToM3, toZero, toM4) = (await SyncIds(_m2, 0), await SyncIds(_m3, _m1), await SyncIds(0, 0), await SyncIds(_m4, 0));
        Assert.Multiple(() =>
        {
            Assert.That(toM2, Is.EqualTo(new[] { _m1, _m2 }));
            Assert.That(m1ToM3, Is.EqualTo(new[] { _m2, _m3 }));
            Assert.That(toZero, Is.Empty);
            Assert.That(toM4, Is.EqualTo(new[] { _m1, _m2, _m3, _m4 }));
        });
    }
}
