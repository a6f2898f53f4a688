using Microsoft.AspNetCore.Http;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Model;

namespace JetNative.Gateway;

/// <summary>
/// A step of the proxy pipeline that turns YARP's bare error statuses into OpenAI-shaped errors:
/// 503 when no replica of the cluster is healthy (nothing is forwarded), 502 when forwarding to the
/// chosen replica failed before its response started (connection refused, reset, timeout).
/// </summary>
internal static class ProxyErrors
{
    public static async Task InvokeAsync(HttpContext context, Func<Task> next)
    {
        IReverseProxyFeature proxy = context.GetReverseProxyFeature();
        if (proxy.AvailableDestinations.Count == 0)
        {
            int total = proxy.Cluster.Config.Destinations?.Count ?? 0;
            context.Response.Headers.RetryAfter = "5";
            await OpenAiError.WriteAsync(context, StatusCodes.Status503ServiceUnavailable,
                $"no healthy replica: all {total} replica(s) of cluster '{proxy.Cluster.Config.ClusterId}' fail their health checks",
                "server_error", "no_healthy_replica");
            return;
        }

        await next();

        IForwarderErrorFeature? error = context.GetForwarderErrorFeature();
        if (error is null || context.Response.HasStarted || context.RequestAborted.IsCancellationRequested) return;
        string replica = proxy.ProxiedDestination?.Model.Config.Address ?? "?";
        (int status, string code) = error.Error switch
        {
            ForwarderError.RequestTimedOut => (StatusCodes.Status504GatewayTimeout, "replica_timeout"),
            _ => (StatusCodes.Status502BadGateway, "bad_gateway"),
        };
        context.Response.Clear();
        await OpenAiError.WriteAsync(context, status,
            $"the replica {replica} failed ({error.Error}): {error.Exception?.Message ?? "no response"}",
            "server_error", code);
    }
}
