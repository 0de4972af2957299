using System.Diagnostics.Metrics;
using Chat.Server.Realtime;

namespace Chat.Server.Observability;

/// <summary>
/// The server's own instruments, on the meter <c>Chat.Server</c> (created through the framework's
/// <see cref="IMeterFactory"/>), named in the OpenTelemetry style. Prometheus names (<c>/metrics</c>) replace dots with
/// underscores, add the unit (<c>_seconds</c>) and <c>_total</c> for counters: <c>chat.messages.stored</c> is
/// <c>chat_messages_stored_total</c>. Every method is cheap enough for the hot path: a counter add with at most one tag
/// from a fixed table, no lock, no allocation; gauges are read only when scraped.
/// </summary>
public sealed class ChatMetrics
{
    /// <summary>The meter's name, for <c>AddMeter</c> and for dashboards.</summary>
    public const string MeterName = "Chat.Server";

    // Histogram buckets: latencies from 50 µs to 10 s; batch sizes in powers of two up to the largest default batch.
    private static readonly double[] SecondsBuckets = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
    private static readonly int[] BatchBuckets = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];

    private static readonly KeyValuePair<string, object?>[] FrameTypeTags =
        [.. Enumerable.Range(0, ServerFrameTypes.Count).Select(i => new KeyValuePair<string, object?>("type", ServerFrameTypes.Name((byte)i)))];
    private static readonly KeyValuePair<string, object?>[] CloseReasonTags =
        [.. SocketCloseReasons.All.Select(r => new KeyValuePair<string, object?>("reason", r))];
    private static readonly KeyValuePair<string, object?>[] LoginOutcomeTags =
        [.. Enum.GetNames<LoginOutcome>().Select(n => new KeyValuePair<string, object?>("outcome", n.ToLowerInvariant()))];

    private readonly Counter<long> _messagesStored;
    private readonly Counter<long> _framesDelivered;
    private readonly Counter<long> _socketsOpened;
    private readonly Counter<long> _socketsClosed;
    private readonly Counter<long> _sendsRateLimited;
    private readonly Counter<long> _logins;
    private readonly Histogram<int> _commitBatchSize;
    private readonly Histogram<double> _commitDuration;
    private readonly Histogram<double> _fsyncDuration;
    private readonly Counter<long> _syncRequests;
    private readonly Counter<long> _syncReplayed;
    private readonly Counter<long> _backplanePublished;
    private readonly Counter<long> _backplaneReceived;
    private readonly Counter<long> _backplaneGapFills;

    /// <summary>Creates the meter and its instruments; the gauges read <paramref name="registry"/> and <paramref name="budget"/> when scraped.</summary>
    public ChatMetrics(IMeterFactory meterFactory, ConnectionRegistry registry, OutboundBudget budget)
    {
        var meter = meterFactory.Create(MeterName);
        _messagesStored = meter.CreateCounter<long>("chat.messages.stored", "{message}",
            "New messages committed and made durable by this node (a client_msg_id repeat is not counted).");
        _framesDelivered = meter.CreateCounter<long>("chat.frames.delivered", "{frame}",
            "Frames written to sockets, by frame type (tag type: chat_message, message_sent, ack, presence, ...).");
        _socketsOpened = meter.CreateCounter<long>("chat.sockets.opened", "{socket}",
            "WebSockets opened and registered.");
        _socketsClosed = meter.CreateCounter<long>("chat.sockets.closed", "{socket}",
            "WebSockets closed, by reason (tag reason: client, dropped, error, slow, limit, logout, expiry, shutdown, too_big, protocol).");
        meter.CreateObservableUpDownCounter("chat.sockets.open", () => registry.Count, "{socket}",
            "WebSockets open on this node.");
        meter.CreateObservableUpDownCounter("chat.users.online", () => registry.UserCount, "{user}",
            "Users with at least one WebSocket open on this node.");
        meter.CreateObservableUpDownCounter("chat.send_queue.bytes", () => budget.TotalBytes, "By",
            "Bytes queued for all sockets together, waiting to be written (a frame counts once per socket).");
        _sendsRateLimited = meter.CreateCounter<long>("chat.sends.rate_limited", "{send}",
            "Sends refused by Chat:RateLimit (error rate_limited, HTTP 429).");
        _logins = meter.CreateCounter<long>("chat.logins", "{login}",
            "Login attempts, by outcome (tag outcome: success, failure, throttled).");
        _commitBatchSize = meter.CreateHistogram("chat.commit.batch_size", "{write}",
            "Writes (sends, read-cursor moves) committed in one transaction (group commit).",
            advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = BatchBuckets });
        _commitDuration = meter.CreateHistogram("chat.commit.duration", "s",
            "Time to run and commit one group-commit transaction, in seconds.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = SecondsBuckets });
        _fsyncDuration = meter.CreateHistogram("chat.commit.fsync.duration", "s",
            "Time to make committed transactions durable (SQLite: the WAL fsync), in seconds; one per group of batches.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = SecondsBuckets });
        _syncRequests = meter.CreateCounter<long>("chat.sync.requests", "{request}",
            "sync frames answered (each page counts once).");
        _syncReplayed = meter.CreateCounter<long>("chat.sync.replayed_messages", "{message}",
            "Messages replayed by sync.");
        _backplanePublished = meter.CreateCounter<long>("chat.backplane.published", "{batch}",
            "Cluster: committed batches this node handed to the Redis bus (fire and forget: a lost one is filled by the other nodes from the database).");
        _backplaneReceived = meter.CreateCounter<long>("chat.backplane.received", "{batch}",
            "Cluster: batches of other nodes received from the Redis bus.");
        _backplaneGapFills = meter.CreateCounter<long>("chat.backplane.gap_fills", "{fill}",
            "Cluster: gaps in the message stream filled from the database (lost or late bus messages).");
    }

    /// <summary>
    /// Exports every counter series at 0 before anything happened (each frame type, close reason and login outcome), so a
    /// dashboard shows 0 rather than "no data" and <c>rate()</c>/<c>increase()</c> count the first event too (a series
    /// that first appears at 1 shows no increase). Called once the metrics pipeline listens (<see cref="LifecycleLog"/>).
    /// The cluster's backplane counters are left out: a single node has none.
    /// </summary>
    public void ExportZeros()
    {
        _messagesStored.Add(0);
        _socketsOpened.Add(0);
        _sendsRateLimited.Add(0);
        _syncRequests.Add(0);
        _syncReplayed.Add(0);
        foreach (var tag in FrameTypeTags) _framesDelivered.Add(0, tag);
        foreach (var tag in CloseReasonTags) _socketsClosed.Add(0, tag);
        foreach (var tag in LoginOutcomeTags) _logins.Add(0, tag);
    }

    /// <summary>One new message is durable (stored).</summary>
    public void MessageStored() => _messagesStored.Add(1);

    /// <summary>A socket took one frame of type <paramref name="type"/> (<see cref="OutboundFrame.Type"/>).</summary>
    public void FrameDelivered(byte type) => _framesDelivered.Add(1, FrameTypeTags[type]);

    /// <summary>A socket was registered.</summary>
    public void SocketOpened() => _socketsOpened.Add(1);

    /// <summary>A socket ended (or was refused at the per-user cap) for <paramref name="reason"/>.</summary>
    public void SocketClosed(SocketCloseReason reason) => _socketsClosed.Add(1, CloseReasonTags[(int)reason]);

    /// <summary>A send was refused by the rate limit.</summary>
    public void SendRateLimited() => _sendsRateLimited.Add(1);

    /// <summary>A login attempt ended with <paramref name="outcome"/>.</summary>
    public void Login(LoginOutcome outcome) => _logins.Add(1, LoginOutcomeTags[(int)outcome]);

    /// <summary>A group-commit transaction of <paramref name="writes"/> writes committed in <paramref name="duration"/>.</summary>
    public void Committed(int writes, TimeSpan duration)
    {
        _commitBatchSize.Record(writes);
        _commitDuration.Record(duration.TotalSeconds);
    }

    /// <summary>One fsync (or equivalent) took <paramref name="duration"/>.</summary>
    public void MadeDurable(TimeSpan duration) => _fsyncDuration.Record(duration.TotalSeconds);

    /// <summary>A <c>sync</c> was answered with <paramref name="replayed"/> messages.</summary>
    public void SyncAnswered(int replayed)
    {
        _syncRequests.Add(1);
        if (replayed > 0) _syncReplayed.Add(replayed);
    }

    /// <summary>Cluster: a batch was published on the bus.</summary>
    public void BackplanePublished() => _backplanePublished.Add(1);

    /// <summary>Cluster: another node's batch arrived from the bus.</summary>
    public void BackplaneReceived() => _backplaneReceived.Add(1);

    /// <summary>Cluster: a gap in the stream was filled from the database.</summary>
    public void BackplaneGapFilled() => _backplaneGapFills.Add(1);
}

/// <summary>How a login attempt ended: the <c>outcome</c> tag of <c>chat.logins</c>.</summary>
public enum LoginOutcome
{
    /// <summary>Right password: a token was issued.</summary>
    Success,
    /// <summary>Wrong password or unknown user (401).</summary>
    Failure,
    /// <summary>Refused by the login throttle (429), the password not checked.</summary>
    Throttled,
}
