using Chat.Tests.Infrastructure;
using static Chat.Tests.Conversations.ConversationKit;

namespace Chat.Tests.Conversations;

/// <summary><c>typing</c> frames between users who share a conversation.</summary>
[BothStores]
public sealed class TypingTests
{
    private ChatApp _app = null!;
    private TestUser _alice = null!;
    private TestUser _bob = null!;
    private long _conversationId;

    [SetUp]
    public async Task SetUp()
    {
        _app = await ChatApp.StartAsync(Transport.TestHost);
        _alice = await _app.RegisterAsync("alice", "Alice Liddell");
        _bob = await _app.RegisterAsync("bob");
        _conversationId = (await _bob.SendAsync("alice", "hello")).Long("conversation_id");
    }

    [TearDown]
    public async Task TearDown() => await _app.DisposeAsync();

    [Test]
    public async Task TypingReachesEverySocketOfTheOtherParticipant()
    {
        await using var alice1 = await OpenAsync(_alice);
        await using var bob1 = await OpenAsync(_bob);
        await using var bob2 = await OpenAsync(_bob);

        await alice1.SendAsync(TypingFrame("BOB"));
        foreach (var socket in new[] { bob1, bob2 })
        {
            var typing = await socket.WaitForAsync("typing");
            FrameAssert.HasExactKeys(typing, FrameAssert.TypingKeys);
            Assert.Multiple(() =>
            {
                Assert.That(typing.Str("sender"), Is.EqualTo("alice"));
                Assert.That(typing.Str("sender_full_name"), Is.EqualTo("Alice Liddell"));
                Assert.That(typing.Long("conversation_id"), Is.EqualTo(_conversationId));
            });
        }
    }

    [Test]
    public async Task TypingIsNotSentBackToTheTyper()
    {
        await using var alice1 = await OpenAsync(_alice);
        await using var alice2 = await OpenAsync(_alice);
        await using var bob1 = await OpenAsync(_bob);

        await alice1.SendAsync(TypingFrame("bob"));
        await bob1.WaitForAsync("typing");
        Assert.That(OfType(await alice1.DrainAsync(), "typing", "error"), Is.Empty);
        Assert.That(OfType(await alice2.DrainAsync(), "typing"), Is.Empty);
    }

    [Test]
    public async Task TypingIsNotStored()
    {
        var listBefore = (await _alice.GetAsync("/api/conversations")).ToJsonString();
        var historyBefore = (await _alice.GetAsync($"/api/conversations/{_conversationId}/messages")).ToJsonString();
        await using var alice1 = await OpenAsync(_alice);
        await using var bob1 = await OpenAsync(_bob);
        await alice1.SendAsync(TypingFrame("bob"));
        await bob1.WaitForAsync("typing");

        Assert.That((await _alice.GetAsync("/api/conversations")).ToJsonString(), Is.EqualTo(listBefore));
        Assert.That((await _alice.GetAsync($"/api/conversations/{_conversationId}/messages")).ToJsonString(), Is.EqualTo(historyBefore));
        // Nor is it replayed by sync.
        await bob1.SendAsync(SyncFrame(0));
        var replay = await CollectAsync(bob1, fs => fs.Count > 0 && fs[^1].Type() == "sync_complete");
        Assert.That(OfType(replay, "typing"), Is.Empty);
    }

    [Test]
    public async Task TypingToUserWithoutSharedConversationIsNotFound()
    {
        var carol = await _app.RegisterAsync("carol");
        await using var carolSocket = await OpenAsync(carol);
        await using var alice1 = await OpenAsync(_alice);
        await alice1.SendAsync(TypingFrame("carol"));
        var error = await alice1.WaitForAsync("error");
        FrameAssert.HasExactKeys(error, FrameAssert.ErrorKeys);
        Assert.That(error.Str("code"), Is.EqualTo("not_found"));
        Assert.That(OfType(await carolSocket.DrainAsync(), "typing"), Is.Empty);
    }

    [Test]
    public async Task TypingToUnknownUserIsNotFound()
    {
        await using var alice1 = await OpenAsync(_alice);
        await alice1.SendAsync(TypingFrame("nobody"));
        var error = await alice1.WaitForAsync("error");
        FrameAssert.HasExactKeys(error, FrameAssert.ErrorKeys);
        Assert.That(error.Str("code"), Is.EqualTo("not_found"));
    }
}
