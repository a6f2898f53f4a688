using System.Globalization;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Health;
using Yarp.ReverseProxy.LoadBalancing;

namespace JetNative.Gateway;

/// <summary>
/// The YARP route and cluster that <see cref="GatewayOptions.Replicas"/> make: every path goes to
/// the cluster <c>replicas</c>, whose destinations are probed with <c>GET /health</c> and chosen by
/// least requests. The same shape as <c>deploy/gateway.json</c>.
/// </summary>
public static class ReplicaCluster
{
    /// <summary>The cluster's id.</summary>
    public const string ClusterId = "replicas";

    /// <summary>The route: all paths, all methods, to <see cref="ClusterId"/>.</summary>
    public static RouteConfig Route() => new()
    {
        RouteId = "all",
        ClusterId = ClusterId,
        Match = new RouteMatch { Path = "/{**catch-all}" },
    };

    /// <summary>The cluster for <paramref name="options"/>' replicas.</summary>
    public static ClusterConfig Cluster(GatewayOptions options)
    {
        var destinations = new Dictionary<string, DestinationConfig>(StringComparer.OrdinalIgnoreCase);
        for (int i = 0; i < options.Replicas.Count; i++)
            destinations[$"replica{i + 1}"] = new DestinationConfig { Address = options.Replicas[i].AbsoluteUri };
        return new ClusterConfig
        {
            ClusterId = ClusterId,
            LoadBalancingPolicy = LoadBalancingPolicies.LeastRequests,
            HealthCheck = new HealthCheckConfig
            {
                // YARP's default (HealthyOrPanic) sends traffic to every replica when none is healthy;
                // the gateway answers 503 instead, at once.
                AvailableDestinationsPolicy = HealthCheckConstants.AvailableDestinations.HealthyAndUnknown,
                Active = new ActiveHealthCheckConfig
                {
                    Enabled = true,
                    Interval = options.HealthInterval,
                    Timeout = options.HealthTimeout,
                    Policy = HealthCheckConstants.ActivePolicy.ConsecutiveFailures,
                    Path = "/health",
                },
            },
            Metadata = new Dictionary<string, string>
            {
                ["ConsecutiveFailuresHealthPolicy.Threshold"] = options.HealthFailureThreshold.ToString(CultureInfo.InvariantCulture),
            },
            HttpRequest = new ForwarderRequestConfig { ActivityTimeout = options.ActivityTimeout },
            Destinations = destinations,
        };
    }
}
