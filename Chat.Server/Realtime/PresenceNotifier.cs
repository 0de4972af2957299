using Chat.Server.Storage;

namespace Chat.Server.Realtime;

/// <summary>
/// Tells conversation partners when a user comes online (first socket) or goes offline (last socket).
/// The state is read at the moment the frame is queued, under a per-user lock, so when connections flap
/// (open, close, open) the last frame every partner gets is the user's real state.
/// </summary>
public sealed partial class PresenceNotifier(ConnectionRegistry registry, IMessageStore store, ILogger<PresenceNotifier> logger) : IPresence
{
    private readonly object[] _stripes = Enumerable.Range(0, 64).Select(_ => new object()).ToArray();

    public async Task AnnounceAsync(long userId, string username)
    {
        try
        {
            var partners = await store.PartnersAsync(userId, CancellationToken.None);
            if (partners.Count == 0) return;
            lock (_stripes[(int)(userId & 63)])
            {
                var frame = Frames.Presence(username, registry.IsOnline(userId));
                foreach (var partner in partners) registry.SendToUser(partner.Id, frame);
            }
        }
        catch (Exception e)
        {
            LogFailed(logger, e);
        }
    }

    public async Task<IReadOnlyList<OutboundFrame>> SnapshotAsync(long userId, CancellationToken ct)
    {
        var partners = await store.PartnersAsync(userId, ct);
        return partners.Where(p => registry.IsOnline(p.Id)).Select(p => Frames.Presence(p.Username, true)).ToList();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Presence announcement failed")]
    private static partial void LogFailed(ILogger logger, Exception e);
}
