using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text.Json.Nodes;
using Chat.Tests.Infrastructure;

namespace Chat.Tests.Realtime;

/// <summary>Small helpers shared by the WebSocket protocol tests.</summary>
internal static class RealtimeTestHelpers
{
    public static JsonObject SendMessageFrame(string receiver, string message, string? clientMsgId = null)
    {
        var frame = new JsonObject { ["type"] = "send_message", ["receiver"] = receiver, ["message"] = message };
        if (clientMsgId is not null) frame["client_msg_id"] = clientMsgId;
        return frame;
    }

    /// <summary>Opens a socket and consumes its <c>connected</c> frame.</summary>
    public static async Task<ChatSocket> ConnectReadyAsync(this TestUser user, bool viaQuery = false)
    {
        var socket = await user.ConnectAsync(viaQuery);
        await socket.ExpectAsync("connected");
        return socket;
    }

    /// <summary>POST /api/auth/login; asserts 200 and returns the new token.</summary>
    public static async Task<string> LoginAsync(this ChatApp app, string username, string password)
    {
        using var client = app.CreateClient();
        var response = await client.PostAsJsonAsync("/api/auth/login", new JsonObject { ["username"] = username, ["password"] = password });
        var json = await response.Content.ReadFromJsonAsync<JsonObject>();
        Assert.That((int)response.StatusCode, Is.EqualTo(200), json?.ToJsonString());
        return json!.Str("token");
    }

    /// <summary>A ping answered by a pong proves the socket is still open and still being read (frames before the pong are skipped).</summary>
    public static async Task AssertStillOpenAsync(this ChatSocket socket)
    {
        await socket.SendAsync(new JsonObject { ["type"] = "ping" });
        var pong = await socket.WaitForAsync("pong");
        FrameAssert.HasExactKeys(pong, ["type"]);
        Assert.That(socket.Socket.State, Is.EqualTo(WebSocketState.Open));
    }

    /// <summary>Asserts the next frame is an <c>error</c> with exactly the contract's keys, the code and the repeated client_msg_id.</summary>
    public static async Task<JsonObject> ExpectErrorAsync(this ChatSocket socket, string code, string? clientMsgId)
    {
        var error = await socket.ExpectAsync("error");
        FrameAssert.HasExactKeys(error, FrameAssert.ErrorKeys);
        Assert.Multiple(() =>
        {
            Assert.That(error.Str("code"), Is.EqualTo(code), error.ToJsonString());
            Assert.That(error["message"]?.GetValueKind(), Is.EqualTo(System.Text.Json.JsonValueKind.String), "message is a string");
            if (clientMsgId is null)
                Assert.That(error["client_msg_id"], Is.Null, "client_msg_id is null when the frame had none");
            else
                Assert.That(error["client_msg_id"]?.GetValue<string>(), Is.EqualTo(clientMsgId), "client_msg_id repeats the frame's");
        });
        return error;
    }
}
