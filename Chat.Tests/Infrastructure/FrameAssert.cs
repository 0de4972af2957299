using System.Text.Json.Nodes;

namespace Chat.Tests.Infrastructure;

/// <summary>Exact key-set checks for protocol frames and response bodies.</summary>
public static class FrameAssert
{
    public static readonly string[] MessageFrameKeys =
    [
        "type", "message", "sender", "receiver", "message_id", "timestamp", "conversation_id", "is_new_conversation",
        "sender_full_name", "sender_email", "receiver_full_name", "receiver_email",
    ];
    public static readonly string[] ConversationRefreshKeys = ["type", "message", "conversation_id", "sender", "sender_full_name", "sender_email", "timestamp"];
    public static readonly string[] AckKeys = ["type", "client_msg_id", "message_id", "conversation_id", "timestamp", "is_new_conversation"];
    public static readonly string[] ErrorKeys = ["type", "code", "message", "client_msg_id"];
    public static readonly string[] ConnectedKeys = ["type", "username", "last_message_id"];
    public static readonly string[] UserKeys = ["username", "full_name", "email", "profile_picture"];
    public static readonly string[] SendResponseKeys = ["message_id", "conversation_id", "sender", "receiver", "message", "timestamp", "is_new_conversation"];
    public static readonly string[] MessageKeys = ["message_id", "conversation_id", "sender", "receiver", "message", "timestamp", "is_read"];
    public static readonly string[] ConversationKeys = ["conversation_id", "other_user", "last_message", "unread_count", "created_at"];
    public static readonly string[] MessagesReadKeys = ["type", "conversation_id", "reader", "up_to_message_id"];
    public static readonly string[] TypingKeys = ["type", "sender", "sender_full_name", "conversation_id"];
    public static readonly string[] PresenceKeys = ["type", "username", "online"];
    public static readonly string[] SyncCompleteKeys = ["type", "last_message_id", "has_more"];

    public static void HasExactKeys(JsonObject obj, IEnumerable<string> keys) =>
        Assert.That(obj.Select(p => p.Key), Is.EquivalentTo(keys), obj.ToJsonString());

    public static string Str(this JsonObject obj, string key) => obj[key]!.GetValue<string>();
    public static long Long(this JsonObject obj, string key) => obj[key]!.GetValue<long>();
    public static bool Bool(this JsonObject obj, string key) => obj[key]!.GetValue<bool>();
    public static string? Type(this JsonObject obj) => obj["type"]?.GetValue<string>();
}
