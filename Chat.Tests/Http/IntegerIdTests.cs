using System.Text.Json;
using Chat.Tests.Infrastructure;

namespace Chat.Tests.Http;

/// <summary>
/// Ids are JSON integers on the wire in both directions (contract section 2), whatever the HTTP JSON options' number
/// handling (made strict so the OpenAPI document types ids as plain integers): answers carry numbers, and a body that
/// quotes an id is refused, not read leniently.
/// </summary>
public sealed class IntegerIdTests : ApiTestBase
{
    [Test]
    public async Task Answers_CarryIdsAsJsonNumbers_AndAQuotedIdInABodyIs400()
    {
        var alice = await App.RegisterAsync("alice");
        var bob = await App.RegisterAsync("bob");
        var sent = await bob.SendAsync("alice", "Hello");
        foreach (var key in new[] { "message_id", "conversation_id", "timestamp" })
            Assert.That(sent[key]!.GetValueKind(), Is.EqualTo(JsonValueKind.Number), key);
        var conversationId = sent["conversation_id"]!.GetValue<long>();
        var history = await alice.GetAsync($"/api/conversations/{conversationId}/messages");
        Assert.That(history["messages"]![0]!["message_id"]!.GetValueKind(), Is.EqualTo(JsonValueKind.Number));

        using var client = alice.Client();
        var quoted = await client.PostRawJsonAsync($"/api/conversations/{conversationId}/read", $"{{\"up_to_message_id\": \"{sent["message_id"]}\"}}");
        var problem = await quoted.AssertProblemAsync(400, "bad_request");
        Assert.That(problem["status"]!.GetValueKind(), Is.EqualTo(JsonValueKind.Number));

        var list = await alice.GetAsync("/api/conversations");
        Assert.That(list["conversations"]![0]!["unread_count"]!.GetValue<long>(), Is.EqualTo(1), "the quoted id marked nothing read");
    }
}
