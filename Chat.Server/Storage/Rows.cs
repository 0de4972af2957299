namespace Chat.Server.Storage;

// Plain rows as Dapper materializes them (snake_case columns matched with underscores).

public sealed class UserRow
{
    public long Id { get; set; }
    public string Username { get; set; } = "";
    public string FullName { get; set; } = "";
    public string Email { get; set; } = "";
    public long AvatarVersion { get; set; }

    /// <summary>The contract's <c>full_name</c>: the stored name, or the username when none is set.</summary>
    public string DisplayName => string.IsNullOrWhiteSpace(FullName) ? Username : FullName;
}

public sealed class TokenRow
{
    public long Id { get; set; }
    public long UserId { get; set; }
    public long ExpiresAt { get; set; }
    public long? RevokedAt { get; set; }
}

/// <summary>A stored message with both participants resolved.</summary>
public sealed record StoredMessage(
    long Id,
    long ConversationId,
    UserRow Sender,
    UserRow Receiver,
    string Body,
    long CreatedAt,
    bool IsNewConversation);
