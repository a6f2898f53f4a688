using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Yarp.ReverseProxy;
using Yarp.ReverseProxy.Health;
using Yarp.ReverseProxy.Model;

namespace JetNative.Gateway;

/// <summary>
/// <c>jetnative gateway</c>: one Kestrel address in front of several <c>jetnative serve</c>
/// replicas, built on YARP. Each replica's <c>GET /health</c> is probed every
/// <see cref="GatewayOptions.HealthInterval"/>; a replica that fails
/// <see cref="GatewayOptions.HealthFailureThreshold"/> probes in a row gets no traffic until a probe
/// passes again. Requests go to the healthy replica with the fewest requests in flight. Responses,
/// streamed answers (SSE) included, pass through as they arrive. With no healthy replica the
/// gateway answers 503 with an OpenAI-shaped error; a replica that fails mid-forward gives 502.
/// The gateway's own <c>GET /health</c> reports the replicas (200 while one is healthy, else 503).
/// Start it in-process with <see cref="StartAsync"/> (tests use port 0) and stop it with
/// <see cref="DisposeAsync"/>.
/// </summary>
public sealed class GatewayHost : IAsyncDisposable
{
    private readonly WebApplication _app;
    private bool _started;

    private GatewayHost(WebApplication app) => _app = app;

    /// <summary>
    /// Builds (does not start) a gateway. <paramref name="logging"/> configures its logging (the
    /// default: warnings and errors, one line each, on stderr).
    /// </summary>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    /// <exception cref="FileNotFoundException"><see cref="GatewayOptions.ConfigFile"/> does not exist.</exception>
    public static GatewayHost Create(GatewayOptions options, Action<ILoggingBuilder>? logging = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            Args = [],
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.Logging.ClearProviders();
        if (logging is not null)
            logging(builder.Logging);
        else
            builder.Logging.SetMinimumLevel(LogLevel.Warning)
                .AddSimpleConsole(o => o.SingleLine = true)
                .AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        builder.WebHost.UseUrls(new UriBuilder(Uri.UriSchemeHttp, options.Host, options.Port).Uri.AbsoluteUri.TrimEnd('/'));

        IReverseProxyBuilder proxy = builder.Services.AddReverseProxy();
        if (options.ConfigFile is not null)
        {
            IConfigurationRoot file = new ConfigurationBuilder().AddJsonFile(Path.GetFullPath(options.ConfigFile), optional: false, reloadOnChange: false).Build();
            IConfigurationSection section = file.GetSection("ReverseProxy");
            if (!section.Exists())
                throw new ArgumentException($"the gateway config file {options.ConfigFile} has no 'ReverseProxy' section (see deploy/gateway.json)");
            proxy.LoadFromConfig(section);
        }
        else
        {
            proxy.LoadFromMemory([ReplicaCluster.Route()], [ReplicaCluster.Cluster(options)]);
        }

        WebApplication app = builder.Build();
        if (options.ApiKey is not null)
        {
            var check = new ApiKeyCheck(options.ApiKey);
            app.Use((context, next) => check.InvokeAsync(context, next));
        }
        app.MapGet("/health", (IProxyStateLookup state) =>
        {
            IReadOnlyList<ReplicaStatus> replicas = Snapshot(state);
            bool any = replicas.Any(r => r.Available);
            return Results.Json(new { status = any ? "ok" : "unavailable", replicas },
                statusCode: any ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
        });
        app.MapReverseProxy(pipeline =>
        {
            pipeline.Use(ProxyErrors.InvokeAsync);
            pipeline.UseSessionAffinity();
            pipeline.UseLoadBalancing();
            pipeline.UsePassiveHealthChecks();
        });
        return new GatewayHost(app);
    }

    /// <summary>The address the gateway listens on (valid after <see cref="StartAsync"/>; with port 0, the port picked).</summary>
    public Uri Address
    {
        get
        {
            if (!_started) throw new InvalidOperationException("the gateway is not started");
            string first = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            return new Uri(first);
        }
    }

    /// <summary>The replicas and their health as the gateway sees them now.</summary>
    public IReadOnlyList<ReplicaStatus> Replicas => Snapshot(_app.Services.GetRequiredService<IProxyStateLookup>());

    /// <summary>Binds the address and starts probing and forwarding.</summary>
    /// <exception cref="IOException">The address is in use or cannot be bound.</exception>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        await _app.StartAsync(cancellationToken);
        _started = true;
    }

    /// <summary>Stops listening; requests in flight get a few seconds to finish.</summary>
    public Task StopAsync(CancellationToken cancellationToken = default) => _app.StopAsync(cancellationToken);

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _app.DisposeAsync();

    private static IReadOnlyList<ReplicaStatus> Snapshot(IProxyStateLookup state)
    {
        var list = new List<ReplicaStatus>();
        foreach (ClusterState cluster in state.GetClusters())
        {
            IReadOnlyList<DestinationState> available = cluster.DestinationsState.AvailableDestinations;
            foreach (DestinationState d in cluster.Destinations.Values.OrderBy(d => d.DestinationId, StringComparer.Ordinal))
                list.Add(new ReplicaStatus(cluster.ClusterId, d.DestinationId, d.Model.Config.Address,
                    d.Health.Active.ToString(), available.Contains(d), d.ConcurrentRequestCount));
        }
        return list;
    }
}

/// <summary>One replica as the gateway sees it.</summary>
/// <param name="Cluster">The YARP cluster id (<c>replicas</c> unless a config file names others).</param>
/// <param name="Id">The destination id (<c>replica1</c>, <c>replica2</c>... in the order given).</param>
/// <param name="Address">Its base address.</param>
/// <param name="Health">The last active probe's verdict: <c>Unknown</c> (not probed yet), <c>Healthy</c> or <c>Unhealthy</c>.</param>
/// <param name="Available">Whether it gets traffic now.</param>
/// <param name="ActiveRequests">Requests the gateway has in flight to it.</param>
public sealed record ReplicaStatus(string Cluster, string Id, string Address, string Health, bool Available, int ActiveRequests);
