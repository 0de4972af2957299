namespace Chat.Protocol.Http;

/// <summary>A user as every endpoint and frame shows it.</summary>
public sealed record UserDto(string Username, string FullName, string Email, string? ProfilePicture);

public sealed record RegisterRequest(string Username, string Password, string? Email = null, string? FullName = null);

public sealed record LoginRequest(string Username, string Password);

public sealed record AuthResponse(string Token, UserDto User);

/// <summary><c>PATCH /api/users/me</c>: a field left out is unchanged, an empty string clears it.</summary>
public sealed record UpdateProfileRequest(string? FullName = null, string? Email = null);

public sealed record SearchResponse(IReadOnlyList<UserDto> Results);
