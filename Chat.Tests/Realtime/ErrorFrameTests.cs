using System.Text.Json.Nodes;
using Chat.Tests.Infrastructure;
using static Chat.Tests.Realtime.RealtimeTestHelpers;

namespace Chat.Tests.Realtime;

/// <summary>
/// Section 3: every refused frame is answered with an <c>error</c> frame
/// <c>{type, code, message, client_msg_id}</c> on the same socket, which stays open (proved by ping/pong).
/// Message length is shrunk to 10 code points so the too-long case stays small.
/// </summary>
[BothStores]
public sealed class ErrorFrameTests
{
    private ChatApp _app = null!;
    private TestUser _alice = null!;
    private TestUser _bob = null!;
    private ChatSocket _socket = null!;

    [SetUp]
    public async Task SetUp()
    {
        _app = await ChatApp.StartAsync(settings: new Dictionary<string, string?> { ["Chat:MaxMessageLength"] = "10" });
        _alice = await _app.RegisterAsync("alice");
        _bob = await _app.RegisterAsync("bob");
        _socket = await _alice.ConnectReadyAsync();
    }

    [TearDown]
    public async Task TearDown()
    {
        await _socket.DisposeAsync();
        await _app.DisposeAsync();
    }

    /// <summary>Sends raw text, expects the error frame, then proves the socket still answers a ping.</summary>
    private async Task ExpectErrorThenStillOpenAsync(string text, string code, string? clientMsgId)
    {
        await _socket.SendTextAsync(text);
        await _socket.ExpectErrorAsync(code, clientMsgId);
        // Exactly one error frame, then the ping is answered: the socket is open and still read.
        Assert.That(await _socket.DrainAsync(), Is.Empty, "nothing but the error frame answers the bad frame");
        Assert.That(_socket.Socket.State, Is.EqualTo(System.Net.WebSockets.WebSocketState.Open));
    }

    /// <summary>Refused sends store nothing: no conversation exists for either user and no frame followed the error.</summary>
    private async Task AssertNothingStoredAsync()
    {
        Assert.That((await _alice.GetAsync("/api/conversations"))["conversations"]!.AsArray(), Is.Empty, "nothing was stored");
        Assert.That((await _bob.GetAsync("/api/conversations"))["conversations"]!.AsArray(), Is.Empty, "nothing was stored");
        var rest = await _socket.DrainAsync();
        Assert.That(rest.Select(f => f.Type()), Has.None.EqualTo("ack").And.None.EqualTo("message_sent"));
    }

    [Test]
    public async Task TextThatIsNotJsonIsAnsweredBadJsonAndTheSocketStaysOpen()
    {
        await ExpectErrorThenStillOpenAsync("hello", "bad_json", null);
        await ExpectErrorThenStillOpenAsync("""{"type":"ping" """, "bad_json", null);
        await ExpectErrorThenStillOpenAsync("""{"type":"send_message","client_msg_id":"x1",""", "bad_json", null);
        await ExpectErrorThenStillOpenAsync("", "bad_json", null);
    }

    [Test]
    public async Task JsonArrayIsAnsweredBadJsonAndTheSocketStaysOpen()
    {
        await ExpectErrorThenStillOpenAsync("""[{"type":"ping"}]""", "bad_json", null);
        await ExpectErrorThenStillOpenAsync("[]", "bad_json", null);
    }

    [Test]
    public async Task JsonNumberIsAnsweredBadJsonAndTheSocketStaysOpen()
    {
        await ExpectErrorThenStillOpenAsync("42", "bad_json", null);
    }

    [Test]
    public async Task JsonStringOrNullIsAnsweredBadJsonAndTheSocketStaysOpen()
    {
        await ExpectErrorThenStillOpenAsync("\"ping\"", "bad_json", null);
        await ExpectErrorThenStillOpenAsync("null", "bad_json", null);
        await ExpectErrorThenStillOpenAsync("true", "bad_json", null);
    }

    [Test]
    public async Task FrameWithoutTypeIsAnsweredBadFrameWithItsClientMsgId()
    {
        await ExpectErrorThenStillOpenAsync("""{"receiver":"bob","message":"hi","client_msg_id":"c1"}""", "bad_frame", "c1");
        await ExpectErrorThenStillOpenAsync("{}", "bad_frame", null);
        await AssertNothingStoredAsync();
    }

    [Test]
    public async Task FrameWithNonStringTypeIsAnsweredBadFrameAndTheSocketStaysOpen()
    {
        await ExpectErrorThenStillOpenAsync("""{"type":5,"client_msg_id":"c2"}""", "bad_frame", "c2");
        await ExpectErrorThenStillOpenAsync("""{"type":null}""", "bad_frame", null);
        await ExpectErrorThenStillOpenAsync("""{"type":["ping"]}""", "bad_frame", null);
    }

    [Test]
    public async Task UnknownTypeIsAnsweredUnknownTypeAndTheSocketStaysOpen()
    {
        await ExpectErrorThenStillOpenAsync("""{"type":"dance","client_msg_id":"c3"}""", "unknown_type", "c3");
        await ExpectErrorThenStillOpenAsync("""{"type":"dance"}""", "unknown_type", null);
        await ExpectErrorThenStillOpenAsync("""{"type":""}""", "unknown_type", null);
    }

    [Test]
    public async Task SendMessageWithoutReceiverIsAnsweredBadFrame()
    {
        await ExpectErrorThenStillOpenAsync("""{"type":"send_message","message":"hi","client_msg_id":"c4"}""", "bad_frame", "c4");
        await ExpectErrorThenStillOpenAsync("""{"type":"send_message","message":"hi"}""", "bad_frame", null);
        await AssertNothingStoredAsync();
    }

    [Test]
    public async Task SendMessageWithoutMessageIsAnsweredBadFrame()
    {
        await ExpectErrorThenStillOpenAsync("""{"type":"send_message","receiver":"bob","client_msg_id":"c5"}""", "bad_frame", "c5");
        await AssertNothingStoredAsync();
    }

    [Test]
    public async Task SendMessageWithNumericMessageIsAnsweredBadFrame()
    {
        await ExpectErrorThenStillOpenAsync("""{"type":"send_message","receiver":"bob","message":5,"client_msg_id":"c6"}""", "bad_frame", "c6");
        await ExpectErrorThenStillOpenAsync("""{"type":"send_message","receiver":"bob","message":null}""", "bad_frame", null);
        await AssertNothingStoredAsync();
    }

    [Test]
    public async Task SendMessageWithNumericReceiverIsAnsweredBadFrame()
    {
        await ExpectErrorThenStillOpenAsync("""{"type":"send_message","receiver":7,"message":"hi","client_msg_id":"c7"}""", "bad_frame", "c7");
        await AssertNothingStoredAsync();
    }

    [TestCase("k", TestName = "ClientMsgIdOf65CharactersIsAnsweredBadFrame")]
    [TestCase(TextSamples.Emoji, TestName = "ClientMsgIdOf65EmojiIsAnsweredBadFrame")]
    public async Task ClientMsgIdOf65CharactersIsAnsweredBadFrame(string unit)
    {
        var id = TextSamples.Repeat(unit, 65);
        await _socket.SendAsync(SendMessageFrame("bob", "hi", id));
        await _socket.ExpectErrorAsync("bad_frame", id);
        await _socket.AssertStillOpenAsync();
        await AssertNothingStoredAsync();
    }

    [Test]
    public async Task EmptyClientMsgIdIsAnsweredBadFrame()
    {
        await _socket.SendAsync(SendMessageFrame("bob", "hi", ""));
        await _socket.ExpectErrorAsync("bad_frame", "");
        await _socket.AssertStillOpenAsync();
        await AssertNothingStoredAsync();
    }

    [TestCase("k", TestName = "ClientMsgIdOf64CharactersIsAccepted")]
    [TestCase(TextSamples.Emoji, TestName = "ClientMsgIdOf64EmojiIsAccepted")]
    public async Task ClientMsgIdOf64CharactersIsAccepted(string unit)
    {
        var id = TextSamples.Repeat(unit, 64);
        await _socket.SendAsync(SendMessageFrame("bob", "hi", id));
        var ack = await _socket.WaitForAsync("ack");
        Assert.That(ack.Str("client_msg_id"), Is.EqualTo(id));
    }

    [Test]
    public async Task EmptyMessageIsAnsweredEmptyMessage()
    {
        await _socket.SendAsync(SendMessageFrame("bob", "", "e1"));
        await _socket.ExpectErrorAsync("empty_message", "e1");
        await _socket.AssertStillOpenAsync();
        await AssertNothingStoredAsync();
    }

    [Test]
    public async Task WhiteSpaceOnlyMessageIsAnsweredEmptyMessage()
    {
        await _socket.SendAsync(SendMessageFrame("bob", "  \t\r\n ", "w1"));
        await _socket.ExpectErrorAsync("empty_message", "w1");
        await _socket.SendAsync(SendMessageFrame("bob", "\u00A0\u3000"));
        await _socket.ExpectErrorAsync("empty_message", null);
        await _socket.AssertStillOpenAsync();
        await AssertNothingStoredAsync();
    }

    [Test]
    public async Task MessageLongerThanMaxMessageLengthIsAnsweredMessageTooLong()
    {
        await _socket.SendAsync(SendMessageFrame("bob", new string('a', 11), "l1"));
        await _socket.ExpectErrorAsync("message_too_long", "l1");
        // Code points, not UTF-16 units: 11 emoji are too long.
        await _socket.SendAsync(SendMessageFrame("bob", string.Concat(Enumerable.Repeat("😀", 11)), "l2"));
        await _socket.ExpectErrorAsync("message_too_long", "l2");
        await _socket.AssertStillOpenAsync();
        await AssertNothingStoredAsync();
    }

    [Test]
    public async Task MessageOfExactlyMaxMessageLengthCodePointsIsAccepted()
    {
        await _socket.SendAsync(SendMessageFrame("bob", new string('a', 10), "ok1"));
        Assert.That((await _socket.WaitForAsync("ack")).Str("client_msg_id"), Is.EqualTo("ok1"));
        // 10 emoji are 20 UTF-16 units but 10 code points.
        await _socket.SendAsync(SendMessageFrame("bob", string.Concat(Enumerable.Repeat("😀", 10)), "ok2"));
        Assert.That((await _socket.WaitForAsync("ack")).Str("client_msg_id"), Is.EqualTo("ok2"));
    }

    [Test]
    public async Task MessageToSelfIsAnsweredInvalidReceiver()
    {
        await _socket.SendAsync(SendMessageFrame("alice", "hi", "s1"));
        await _socket.ExpectErrorAsync("invalid_receiver", "s1");
        // Usernames are looked up ignoring case: ALICE is still alice.
        await _socket.SendAsync(SendMessageFrame("ALICE", "hi"));
        await _socket.ExpectErrorAsync("invalid_receiver", null);
        await _socket.AssertStillOpenAsync();
        Assert.That((await _alice.GetAsync("/api/conversations"))["conversations"]!.AsArray(), Is.Empty, "nothing was stored");
    }

    [Test]
    public async Task UnknownReceiverIsAnsweredUnknownUser()
    {
        await _socket.SendAsync(SendMessageFrame("nobody", "hi", "u1"));
        await _socket.ExpectErrorAsync("unknown_user", "u1");
        await _socket.SendAsync(SendMessageFrame("nobody", "hi"));
        await _socket.ExpectErrorAsync("unknown_user", null);
        await _socket.AssertStillOpenAsync();
        await AssertNothingStoredAsync();
    }

    [Test]
    public async Task SocketKeepsWorkingForSendsAfterManyErrors()
    {
        await ExpectErrorThenStillOpenAsync("nope", "bad_json", null);
        await ExpectErrorThenStillOpenAsync("""{"type":"dance"}""", "unknown_type", null);
        await _socket.SendAsync(SendMessageFrame("nobody", "hi", "u1"));
        await _socket.ExpectErrorAsync("unknown_user", "u1");

        await using var bobSocket = await _bob.ConnectReadyAsync();
        await _socket.SendAsync(SendMessageFrame("bob", "still ok", "good"));
        Assert.That((await _socket.WaitForAsync("ack")).Str("client_msg_id"), Is.EqualTo("good"));
        Assert.That((await bobSocket.WaitForAsync("chat_message")).Str("message"), Is.EqualTo("still ok"));
    }

    [Test]
    public async Task ErrorFrameGoesOnlyToTheSocketThatSentTheFrame()
    {
        await using var second = await _alice.ConnectReadyAsync();
        await ExpectErrorThenStillOpenAsync("""{"type":"dance","client_msg_id":"only-me"}""", "unknown_type", "only-me");
        await _socket.SendAsync(SendMessageFrame("nobody", "hi", "only-me-2"));
        await _socket.ExpectErrorAsync("unknown_user", "only-me-2");
        Assert.That((await second.DrainAsync()).Select(f => f.Type()), Has.None.EqualTo("error"));
    }

    [Test]
    public async Task TypeNotFirstInTheObjectStillWorks()
    {
        await using var bobSocket = await _bob.ConnectReadyAsync();
        await _socket.SendTextAsync("""{"receiver":"bob","message":"late type","client_msg_id":"late","type":"send_message"}""");
        var ack = await _socket.WaitForAsync("ack");
        FrameAssert.HasExactKeys(ack, FrameAssert.AckKeys);
        Assert.That(ack.Str("client_msg_id"), Is.EqualTo("late"));
        var chat = await bobSocket.WaitForAsync("chat_message");
        Assert.That(chat.Str("message"), Is.EqualTo("late type"));
        Assert.That(chat.Long("message_id"), Is.EqualTo(ack.Long("message_id")));

        await _socket.SendTextAsync("""{"padding":"x","type":"ping"}""");
        await _socket.WaitForAsync("pong");
    }

    [Test]
    public async Task AckForAFrameWithoutClientMsgIdCarriesNull()
    {
        await _socket.SendAsync(SendMessageFrame("bob", "no id"));
        var ack = await _socket.WaitForAsync("ack");
        FrameAssert.HasExactKeys(ack, FrameAssert.AckKeys);
        Assert.That(ack["client_msg_id"], Is.Null);
    }
}
