namespace Chat.Protocol;

/// <summary>The <c>type</c> values of WebSocket frames, in one place so server, tests and clients agree.</summary>
public static class FrameTypes
{
    // Server → client
    public const string Connected = "connected";
    public const string ChatMessage = "chat_message";
    public const string MessageSent = "message_sent";
    public const string ConversationRefresh = "conversation_refresh";
    public const string Ack = "ack";
    public const string MessagesRead = "messages_read";
    public const string Typing = "typing";
    public const string Presence = "presence";
    public const string SyncComplete = "sync_complete";
    public const string Pong = "pong";
    public const string Error = "error";

    // Client → server
    public const string SendMessage = "send_message";
    public const string MarkRead = "mark_read";
    public const string Sync = "sync";
    public const string Ping = "ping";
}
