using System.Globalization;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Chat.Server.Hosting;

/// <summary>
/// Default caps on concurrent connections, derived from the process's open-file limit (RLIMIT_NOFILE, read from
/// <c>/proc/self/limits</c>), so the server refuses connections it cannot hold instead of running out of file
/// descriptors (an <c>accept</c> failing with EMFILE aborted the process). Every connection holds one descriptor;
/// <see cref="ReservedDescriptors"/> (or an eighth of the limit, if more) stays free for the database files (the
/// SQLite writer, checkpointer and pooled readers each hold the database and its WAL), logs and the runtime. What is
/// left is split between Kestrel's two counters: <c>MaxConcurrentConnections</c> counts every connection that is not
/// upgraded (HTTP, and sockets the <c>WebSocketFastPath</c> took, which Kestrel never sees upgrade) and
/// <c>MaxConcurrentUpgradedConnections</c> the sockets upgraded through the HTTP pipeline. Settings under
/// <c>Kestrel:Limits</c> win over these defaults. Without a known limit (not Linux, or unlimited) nothing is capped.
/// </summary>
public static class ConnectionCaps
{
    /// <summary>Descriptors kept free for everything that is not a client connection: 512 (an idle server already holds ~270, two for each loaded assembly).</summary>
    public const int ReservedDescriptors = 512;

    /// <summary>Fills in the two connection caps that configuration left unset.</summary>
    /// <param name="fastPath">Whether the WebSocket fast path is on (then most sockets count as plain connections).</param>
    /// <param name="openFileLimit">The soft open-file limit, or null when unknown or unlimited.</param>
    public static void Apply(KestrelServerLimits limits, IConfiguration kestrelLimits, bool fastPath, long? openFileLimit)
    {
        if (openFileLimit is not { } limit) return;
        var usable = Math.Max(64, limit - Math.Max(ReservedDescriptors, limit / 8));
        var upgraded = fastPath ? usable / 4 : usable * 3 / 4;
        if (kestrelLimits[nameof(KestrelServerLimits.MaxConcurrentConnections)] is null)
            limits.MaxConcurrentConnections = usable - upgraded;
        if (kestrelLimits[nameof(KestrelServerLimits.MaxConcurrentUpgradedConnections)] is null)
            limits.MaxConcurrentUpgradedConnections = upgraded;
    }

    /// <summary>The soft RLIMIT_NOFILE of this process, or null when it is unknown or unlimited.</summary>
    public static long? ReadOpenFileLimit()
    {
        const string path = "/proc/self/limits";
        if (!OperatingSystem.IsLinux() || !File.Exists(path)) return null;
        foreach (var line in File.ReadLines(path))
        {
            if (!line.StartsWith("Max open files", StringComparison.Ordinal)) continue;
            var fields = line["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            return fields.Length > 0 && long.TryParse(fields[0], NumberStyles.None, CultureInfo.InvariantCulture, out var soft) ? soft : null;
        }
        return null;
    }
}
