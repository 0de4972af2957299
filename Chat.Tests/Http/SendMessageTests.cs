using System.Text.Json.Nodes;
using Chat.Tests.Infrastructure;

namespace Chat.Tests.Http;

/// <summary>POST /api/messages (contract section 2, Sending).</summary>
public sealed class SendMessageTests : ApiTestBase
{
    private TestUser _alice = null!;
    private TestUser _bob = null!;

    [SetUp]
    public async Task RegisterUsers()
    {
        _alice = await App.RegisterAsync("alice");
        _bob = await App.RegisterAsync("Bob");
    }

    private async Task<HttpResponseMessage> PostAsync(JsonObject body)
    {
        using var client = _alice.Client();
        return await client.SendMessageAsync(body);
    }

    private static JsonObject Message(string receiver, string message) => new() { ["receiver"] = receiver, ["message"] = message };

    private async Task AssertNothingStoredAsync()
    {
        Assert.That((await _alice.GetAsync("/api/conversations"))["conversations"]!.AsArray(), Is.Empty);
        Assert.That((await _bob.GetAsync("/api/conversations"))["conversations"]!.AsArray(), Is.Empty);
    }

    [Test]
    public async Task SendIs201WithExactlyTheContractKeys()
    {
        var before = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

        var body = await (await PostAsync(Message("Bob", "Hello"))).JsonAsync(201);

        var after = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        FrameAssert.HasExactKeys(body, FrameAssert.SendResponseKeys);
        Assert.Multiple(() =>
        {
            Assert.That(body.Long("message_id"), Is.Positive);
            Assert.That(body.Long("conversation_id"), Is.Positive);
            Assert.That(body.Str("sender"), Is.EqualTo("alice"));
            Assert.That(body.Str("receiver"), Is.EqualTo("Bob"));
            Assert.That(body.Str("message"), Is.EqualTo("Hello"));
            Assert.That(body.Long("timestamp"), Is.InRange(before, after), "Unix seconds");
            Assert.That(body.Bool("is_new_conversation"), Is.True);
        });
    }

    [Test]
    public async Task OnlyTheFirstMessageOfAConversationIsNew()
    {
        var first = await _alice.SendAsync("Bob", "one");
        var second = await _alice.SendAsync("Bob", "two");
        var reply = await _bob.SendAsync("alice", "three");

        Assert.That(first.Bool("is_new_conversation"), Is.True);
        Assert.That(second.Bool("is_new_conversation"), Is.False);
        Assert.That(reply.Bool("is_new_conversation"), Is.False);
        Assert.That(new[] { second.Long("conversation_id"), reply.Long("conversation_id") }, Is.All.EqualTo(first.Long("conversation_id")));
        Assert.That(second.Long("message_id"), Is.GreaterThan(first.Long("message_id")));
    }

    [Test]
    public async Task ARepeatedClientMsgIdAimedAtAnotherReceiverReturnsTheOriginalAndFailsNobodyElsesSend()
    {
        var carol = await App.RegisterAsync("carol");
        var dave = await App.RegisterAsync("dave");
        var original = await _alice.SendAsync("Bob", "to bob", "k-1");

        // The repeat names another receiver, in a batch with other users' sends: it gets the original (to Bob), and
        // the others are stored as usual.
        var sends = await Task.WhenAll(
            Enumerable.Range(0, 6).Select(i => _alice.SendAsync("carol", "to carol", "k-1"))
                .Concat(Enumerable.Range(0, 6).Select(i => dave.SendAsync("carol", $"dave {i}"))));

        foreach (var repeat in sends.Take(6))
            Assert.That((repeat.Long("message_id"), repeat.Str("receiver")), Is.EqualTo((original.Long("message_id"), "Bob")));
        Assert.That(sends.Skip(6).Select(s => s.Long("message_id")).Distinct().Count(), Is.EqualTo(6), "dave's sends were stored");
        Assert.That((await carol.GetAsync("/api/conversations"))["conversations"]!.AsArray(), Has.Count.EqualTo(1), "carol has only dave's conversation");
    }

    [Test]
    public async Task FirstMessagesRacingFromBothSidesCreateOneConversationAndExactlyOneIsNew()
    {
        // Each round a new pair sends its first messages from both sides at once: the handler knows no conversation for
        // either, and the store settles which one created it.
        for (var round = 0; round < 10; round++)
        {
            var a = await App.RegisterAsync($"racer{round}a");
            var b = await App.RegisterAsync($"racer{round}b");
            var sends = await Task.WhenAll(
                Enumerable.Range(0, 4).Select(i => i % 2 == 0 ? a.SendAsync(b.Username, $"a{i}") : b.SendAsync(a.Username, $"b{i}")));

            Assert.That(sends.Select(s => s.Long("conversation_id")).Distinct().Count(), Is.EqualTo(1), $"round {round}: one conversation");
            var isNew = sends.Where(s => s.Bool("is_new_conversation")).ToList();
            Assert.That(isNew, Has.Count.EqualTo(1), $"round {round}: exactly one message created the conversation");
            Assert.That(isNew[0].Long("message_id"), Is.EqualTo(sends.Min(s => s.Long("message_id"))), "the first stored one");
            Assert.That((await a.GetAsync("/api/conversations"))["conversations"]!.AsArray(), Has.Count.EqualTo(1));
        }
    }

    [Test]
    public async Task ARepeatedClientMsgIdRacingTheFirstSendOfAPairStoresOneMessage()
    {
        for (var round = 0; round < 10; round++)
        {
            var a = await App.RegisterAsync($"repeat{round}a");
            var b = await App.RegisterAsync($"repeat{round}b");
            var sends = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => a.SendAsync(b.Username, "once", $"k{round}")));

            Assert.That(sends.Select(s => s.Long("message_id")).Distinct().Count(), Is.EqualTo(1), $"round {round}: one message");
            Assert.That(sends.All(s => s.Bool("is_new_conversation")), Is.True, "every answer is the original, which created the conversation");
            var history = await b.GetAsync($"/api/conversations/{sends[0].Long("conversation_id")}/messages");
            Assert.That(history["messages"]!.AsArray(), Has.Count.EqualTo(1));
        }
    }

    [Test]
    public async Task SentMessageIsStoredForTheReceiver()
    {
        var sent = await _alice.SendAsync("Bob", "Hello");

        var history = await _bob.GetAsync($"/api/conversations/{sent.Long("conversation_id")}/messages");
        var message = history["messages"]!.AsArray().Single()!.AsObject();
        Assert.That(message.Long("message_id"), Is.EqualTo(sent.Long("message_id")));
        Assert.That(message.Str("message"), Is.EqualTo("Hello"));
        Assert.That(message.Str("sender"), Is.EqualTo("alice"));
    }

    [Test]
    public async Task SendToReceiverInOtherCaseReachesTheUserAsTyped()
    {
        var sent = await _alice.SendAsync("bOB", "hi");

        Assert.That(sent.Str("receiver"), Is.EqualTo("Bob"));
        var list = await _bob.GetAsync("/api/conversations");
        Assert.That(list["conversations"]!.AsArray().Single()!["conversation_id"]!.GetValue<long>(), Is.EqualTo(sent.Long("conversation_id")));
    }

    [TestCase("alice", TestName = "SendToYourselfIs400InvalidReceiver")]
    [TestCase("ALICE", TestName = "SendToYourselfInOtherCaseIs400InvalidReceiver")]
    public async Task SendToYourselfIs400InvalidReceiver(string receiver)
    {
        await (await PostAsync(Message(receiver, "hi me"))).AssertProblemAsync(400, "invalid_receiver");
        await AssertNothingStoredAsync();
    }

    [Test]
    public async Task SendToUnknownReceiverIs404UnknownUser()
    {
        await (await PostAsync(Message("nobody", "hello?"))).AssertProblemAsync(404, "unknown_user");
        await AssertNothingStoredAsync();
    }

    [TestCase("", TestName = "SendEmptyMessageIs400EmptyMessage")]
    [TestCase("   \n", TestName = "SendWhitespaceOnlyMessageIs400EmptyMessage")]
    [TestCase("\t\r\n \u00A0\u2003", TestName = "SendUnicodeWhitespaceOnlyMessageIs400EmptyMessage")]
    public async Task SendBlankMessageIs400EmptyMessage(string message)
    {
        await (await PostAsync(Message("Bob", message))).AssertProblemAsync(400, "empty_message");
        await AssertNothingStoredAsync();
    }

    [Test]
    public async Task SendMessageOf4001CharactersIs400MessageTooLong()
    {
        await (await PostAsync(Message("Bob", new string('x', 4001)))).AssertProblemAsync(400, "message_too_long");
        await AssertNothingStoredAsync();
    }

    [Test]
    public async Task SendMessageOf4000CharactersIsAccepted()
    {
        var text = new string('x', 4000);
        var sent = await _alice.SendAsync("Bob", text);
        Assert.That(sent.Str("message"), Is.EqualTo(text));
    }

    [Test]
    public async Task SendMessageOf4000EmojiIsAcceptedBecauseEachCountsOnce()
    {
        var text = string.Concat(Enumerable.Repeat("😀", 4000));
        Assert.That(text, Has.Length.EqualTo(8000), "two UTF-16 chars each");

        var sent = await _alice.SendAsync("Bob", text);

        Assert.That(sent.Str("message"), Is.EqualTo(text));
        var history = await _bob.GetAsync($"/api/conversations/{sent.Long("conversation_id")}/messages");
        Assert.That(history["messages"]!.AsArray().Single()!["message"]!.GetValue<string>(), Is.EqualTo(text));
    }

    [Test]
    public async Task SendMessageOf4001EmojiIs400MessageTooLong()
    {
        var text = string.Concat(Enumerable.Repeat("😀", 4001));
        await (await PostAsync(Message("Bob", text))).AssertProblemAsync(400, "message_too_long");
    }

    [TestCase("c", TestName = "SendWithClientMsgIdOf65CharactersIs400BadRequest")]
    [TestCase(TextSamples.Emoji, TestName = "SendWithClientMsgIdOf65EmojiIs400BadRequest")]
    public async Task SendWithClientMsgIdOf65CharactersIs400BadRequest(string unit)
    {
        var body = Message("Bob", "hi");
        body["client_msg_id"] = TextSamples.Repeat(unit, 65);

        await (await PostAsync(body)).AssertProblemAsync(400, "bad_request");
        await AssertNothingStoredAsync();
    }

    [Test]
    public async Task SendWithEmptyClientMsgIdIs400BadRequest()
    {
        var body = Message("Bob", "hi");
        body["client_msg_id"] = "";

        await (await PostAsync(body)).AssertProblemAsync(400, "bad_request");
        await AssertNothingStoredAsync();
    }

    [TestCase("c", TestName = "SendWithClientMsgIdOf64CharactersIsAccepted")]
    [TestCase(TextSamples.Emoji, TestName = "SendWithClientMsgIdOf64EmojiIsAccepted")]
    public async Task SendWithClientMsgIdOf64CharactersIsAccepted(string unit)
    {
        var sent = await _alice.SendAsync("Bob", "hi", TextSamples.Repeat(unit, 64));
        Assert.That(sent.Str("message"), Is.EqualTo("hi"));
    }

    [Test]
    public async Task RepeatedClientMsgIdStoresNothingNewAndReturnsTheOriginal()
    {
        var first = await _alice.SendAsync("Bob", "once", "dup-1");
        var body = Message("Bob", "once");
        body["client_msg_id"] = "dup-1";
        var response = await PostAsync(body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.That(response.IsSuccessStatusCode, Is.True, text);
        var again = JsonNode.Parse(text)!.AsObject();

        Assert.That(again.Long("message_id"), Is.EqualTo(first.Long("message_id")));
        var history = await _bob.GetAsync($"/api/conversations/{first.Long("conversation_id")}/messages");
        Assert.That(history["messages"]!.AsArray(), Has.Count.EqualTo(1));
    }

    [TestCase("""{"receiver": 5, "message": "hi"}""", TestName = "SendWithNumericReceiverIs400BadRequest")]
    [TestCase("""{"receiver": "Bob", "message": 5}""", TestName = "SendWithNumericMessageIs400BadRequest")]
    [TestCase("""{"receiver": "Bob", "message": "hi", "client_msg_id": 7}""", TestName = "SendWithNumericClientMsgIdIs400BadRequest")]
    [TestCase("""{"message": "hi"}""", TestName = "SendWithoutReceiverIs400BadRequest")]
    [TestCase("""{"receiver": "Bob"}""", TestName = "SendWithoutMessageIs400BadRequest")]
    [TestCase("""{"receiver": "Bob", "message": null}""", TestName = "SendWithNullMessageIs400BadRequest")]
    [TestCase("""{"receiver": "Bob", "message": "hi" """, TestName = "SendWithMalformedJsonIs400BadRequest")]
    public async Task SendWithMalformedBodyIs400BadRequest(string json)
    {
        using var client = _alice.Client();
        await (await client.PostRawJsonAsync("/api/messages", json)).AssertProblemAsync(400, "bad_request");
        await AssertNothingStoredAsync();
    }

    [Test]
    public async Task SendingFasterThanTheRateLimitIs429RateLimitedWithRetryAfterAndStoresNothing()
    {
        await RestartWithAsync(new Dictionary<string, string?> { ["Chat:RateLimit:MessagesPerSecond"] = "1", ["Chat:RateLimit:Burst"] = "3" });
        var alice = await App.RegisterAsync("alice");
        var bob = await App.RegisterAsync("bob");
        using var client = alice.Client();

        var started = DateTime.UtcNow;
        var accepted = 0;
        var refused = 0;
        for (var i = 0; i < 10; i++)
        {
            var response = await client.SendMessageAsync(Message("bob", $"m{i}"));
            if ((int)response.StatusCode == 201) { accepted++; continue; }
            await response.AssertProblemAsync(429, "rate_limited");
            Assert.That(response.Headers.RetryAfter, Is.Not.Null, "429 carries Retry-After");
            refused++;
        }
        var elapsed = (DateTime.UtcNow - started).TotalSeconds;

        Assert.That(refused, Is.Positive);
        Assert.That(accepted, Is.InRange(3, 3 + (int)Math.Ceiling(elapsed)), "burst of 3 plus at most 1 per elapsed second");
        var conversation = (await bob.GetAsync("/api/conversations"))["conversations"]!.AsArray().Single()!["conversation_id"]!.GetValue<long>();
        var stored = (await bob.GetAsync($"/api/conversations/{conversation}/messages"))["messages"]!.AsArray();
        Assert.That(stored, Has.Count.EqualTo(accepted), "refused sends store nothing");
    }
}
