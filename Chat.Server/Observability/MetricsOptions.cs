using System.ComponentModel.DataAnnotations;

namespace Chat.Server.Observability;

/// <summary>
/// <c>GET /metrics</c> in Prometheus text format (<c>Chat:Metrics</c>): the framework's meters (Kestrel, HTTP, runtime)
/// and the server's own (<see cref="ChatMetrics"/>).
/// </summary>
public sealed class MetricsOptions
{
    /// <summary>Serve <c>/metrics</c>; false turns the endpoint and the collection off (404). The default is true.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>
    /// The local port on which <c>/metrics</c> is answered; every other port answers it 404. The port is the one the
    /// connection arrived on (never the <c>Host</c> header, which a client chooses), so an operator adds an address with
    /// this port to <c>--urls</c> (e.g. <c>http://127.0.0.1:9464</c>) and keeps the metrics off the public one. 0 (the
    /// default) answers <c>/metrics</c> on every address.
    /// </summary>
    [Range(0, 65535)]
    public int Port { get; set; }
}
