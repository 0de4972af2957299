using Chat.Protocol.Http;
using Chat.Server.Storage;

namespace Chat.Server.Users;

internal static class UserMapping
{
    /// <summary>The contract's user object. The avatar URL carries a version so caches refresh on upload.</summary>
    public static UserDto ToDto(this UserRow user) => new(
        user.Username,
        user.DisplayName,
        user.Email,
        user.AvatarVersion > 0 ? $"/api/users/{Uri.EscapeDataString(user.Username)}/avatar?v={user.AvatarVersion}" : null);
}
