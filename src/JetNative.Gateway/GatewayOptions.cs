namespace JetNative.Gateway;

/// <summary>
/// What <see cref="GatewayHost"/> listens on and where it sends requests. Either
/// <see cref="Replicas"/> (the cluster is built in code: active health checks on <c>GET /health</c>,
/// least-requests balancing) or <see cref="ConfigFile"/> (a YARP configuration file with a
/// <c>ReverseProxy</c> section, such as <c>deploy/gateway.json</c>).
/// </summary>
public sealed record GatewayOptions
{
    /// <summary>The address to listen on (an IP address or host name); loopback by default.</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>The port to listen on; 0 picks a free one (see <see cref="GatewayHost.Address"/>).</summary>
    public int Port { get; init; } = 8080;

    /// <summary>Base addresses of the <c>jetnative serve</c> replicas, e.g. <c>http://10.0.0.5:8080</c>.</summary>
    public IReadOnlyList<Uri> Replicas { get; init; } = [];

    /// <summary>A YARP configuration file (JSON with a <c>ReverseProxy</c> section) used instead of <see cref="Replicas"/>.</summary>
    public string? ConfigFile { get; init; }

    /// <summary>How often each replica's <c>GET /health</c> is probed.</summary>
    public TimeSpan HealthInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How long one health probe may take before it counts as a failure.</summary>
    public TimeSpan HealthTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Consecutive failed probes after which a replica is taken out (one passed probe puts it back).</summary>
    public int HealthFailureThreshold { get; init; } = 2;

    /// <summary>
    /// How long a forwarded request may go without any data moving before it is aborted (a streamed
    /// answer resets it with every chunk).
    /// </summary>
    public TimeSpan ActivityTimeout { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>When set, requests under <c>/v1/</c> must carry <c>Authorization: Bearer</c> this key.</summary>
    public string? ApiKey { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> with a clear message when a value is out of range.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Host)) throw new ArgumentException("the host is empty");
        if (Port is < 0 or > 65535) throw new ArgumentException($"the port must be in 0..65535, not {Port}");
        if (ConfigFile is not null && Replicas.Count > 0)
            throw new ArgumentException("give either replicas or a YARP config file, not both");
        if (ConfigFile is null && Replicas.Count == 0)
            throw new ArgumentException("no replica: give at least one replica address (or a YARP config file)");
        if (ConfigFile is not null && !File.Exists(ConfigFile))
            throw new FileNotFoundException($"gateway config file not found: {Path.GetFullPath(ConfigFile)}", ConfigFile);
        foreach (Uri replica in Replicas)
        {
            if (!replica.IsAbsoluteUri || (replica.Scheme != Uri.UriSchemeHttp && replica.Scheme != Uri.UriSchemeHttps))
                throw new ArgumentException($"a replica address must be an absolute http:// or https:// URL, not '{replica.OriginalString}'");
        }
        if (Replicas.Distinct().Count() != Replicas.Count) throw new ArgumentException("the same replica is given twice");
        if (HealthInterval <= TimeSpan.Zero) throw new ArgumentException($"the health-check interval must be positive, not {HealthInterval}");
        if (HealthTimeout <= TimeSpan.Zero) throw new ArgumentException($"the health-check timeout must be positive, not {HealthTimeout}");
        if (HealthFailureThreshold < 1) throw new ArgumentException($"the health failure threshold must be >= 1, not {HealthFailureThreshold}");
        if (ActivityTimeout <= TimeSpan.Zero) throw new ArgumentException($"the activity timeout must be positive, not {ActivityTimeout}");
        if (ApiKey is { Length: 0 }) throw new ArgumentException("the API key is empty");
    }
}
