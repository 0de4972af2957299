using Chat.Tests.Infrastructure;
using static Chat.Tests.Conversations.ConversationKit;

namespace Chat.Tests.Conversations;

/// <summary>A user who is not part of a conversation cannot read it, mark it read or type into it.</summary>
[BothStores]
public sealed class OutsiderTests
{
    private ChatApp _app = null!;
    private TestUser _alice = null!;
    private TestUser _bob = null!;
    private TestUser _carol = null!;
    private long _conversationId;
    private long _messageId;

    [SetUp]
    public async Task SetUp()
    {
        _app = await ChatApp.StartAsync(Transport.TestHost);
        _alice = await _app.RegisterAsync("alice");
        _bob = await _app.RegisterAsync("bob");
        _carol = await _app.RegisterAsync("carol");
        var sent = await _alice.SendAsync("bob", "private");
        _conversationId = sent.Long("conversation_id");
        _messageId = sent.Long("message_id");
    }

    [TearDown]
    public async Task TearDown() => await _app.DisposeAsync();

    [Test]
    public async Task OutsiderGetsNotFoundForHistory()
    {
        var answer = await GetRawAsync(_carol, $"/api/conversations/{_conversationId}/messages");
        AssertProblem(answer, 404, "not_found");
        Assert.That(answer.Json!.ToJsonString(), Does.Not.Contain("private"));
    }

    [Test]
    public async Task OutsiderGetsNotFoundForMarkReadAndChangesNothing()
    {
        await using var bobSocket = await OpenAsync(_bob);
        AssertProblem(await PostRawAsync(_carol, $"/api/conversations/{_conversationId}/read", new()), 404, "not_found");
        AssertProblem(await PostRawAsync(_carol, $"/api/conversations/{_conversationId}/read", new() { ["up_to_message_id"] = _messageId }), 404, "not_found");

        Assert.That(OfType(await bobSocket.DrainAsync(), "messages_read"), Is.Empty);
        Assert.That((await ConversationAsync(_bob, _conversationId)).Long("unread_count"), Is.EqualTo(1));
        Assert.That((await HistoryAsync(_bob, _conversationId)).Single().Bool("is_read"), Is.False);
    }

    [Test]
    public async Task NonexistentConversationIsNotFoundLikeSomeoneElses()
    {
        var missing = _conversationId + 1000;
        AssertProblem(await GetRawAsync(_alice, $"/api/conversations/{missing}/messages"), 404, "not_found");
        AssertProblem(await PostRawAsync(_alice, $"/api/conversations/{missing}/read", new()), 404, "not_found");

        // The outsider's answer for an existing conversation is the same.
        var missingAnswer = await GetRawAsync(_carol, $"/api/conversations/{missing}/messages");
        var othersAnswer = await GetRawAsync(_carol, $"/api/conversations/{_conversationId}/messages");
        Assert.Multiple(() =>
        {
            Assert.That(othersAnswer.Status, Is.EqualTo(missingAnswer.Status));
            Assert.That(othersAnswer.Code, Is.EqualTo(missingAnswer.Code));
        });
    }

    [Test]
    public async Task OutsiderMarkReadFrameGetsNotFoundError()
    {
        await using var bobSocket = await OpenAsync(_bob);
        await using var carolSocket = await OpenAsync(_carol);
        await carolSocket.SendAsync(MarkReadFrame(_conversationId, _messageId));
        var error = await carolSocket.ExpectAsync("error");
        FrameAssert.HasExactKeys(error, FrameAssert.ErrorKeys);
        Assert.Multiple(() =>
        {
            Assert.That(error.Str("code"), Is.EqualTo("not_found"));
            Assert.That(error["client_msg_id"], Is.Null);
        });

        // The socket stays open, and nobody was told anything was read.
        Assert.That(OfType(await carolSocket.DrainAsync(), "messages_read"), Is.Empty);
        Assert.That(OfType(await bobSocket.DrainAsync(), "messages_read"), Is.Empty);
        Assert.That((await ConversationAsync(_bob, _conversationId)).Long("unread_count"), Is.EqualTo(1));
    }

    [Test]
    public async Task MarkReadFrameForNonexistentConversationGetsNotFoundError()
    {
        await using var aliceSocket = await OpenAsync(_alice);
        await aliceSocket.SendAsync(MarkReadFrame(_conversationId + 1000));
        var error = await aliceSocket.ExpectAsync("error");
        FrameAssert.HasExactKeys(error, FrameAssert.ErrorKeys);
        Assert.That(error.Str("code"), Is.EqualTo("not_found"));
    }

    [Test]
    public async Task OutsiderTypingFrameGetsNotFoundError()
    {
        await using var aliceSocket = await OpenAsync(_alice);
        await using var carolSocket = await OpenAsync(_carol);
        await carolSocket.SendAsync(TypingFrame("alice"));
        var error = await carolSocket.ExpectAsync("error");
        FrameAssert.HasExactKeys(error, FrameAssert.ErrorKeys);
        Assert.Multiple(() =>
        {
            Assert.That(error.Str("code"), Is.EqualTo("not_found"));
            Assert.That(error["client_msg_id"], Is.Null);
        });
        Assert.That(OfType(await aliceSocket.DrainAsync(), "typing"), Is.Empty);
    }
}
