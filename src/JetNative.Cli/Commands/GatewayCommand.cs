using System.CommandLine;
using System.Globalization;
using JetNative.Gateway;

namespace JetNative.Cli.Commands;

/// <summary>
/// <c>jetnative gateway</c>: one address in front of several <c>jetnative serve</c> replicas
/// (<see cref="GatewayHost"/>: YARP, active health checks, least-requests balancing). Runs until
/// Ctrl+C, then stops cleanly (exit 0).
/// </summary>
internal static class GatewayCommand
{
    public static Command Create(CliConsole io)
    {
        var host = new Option<string>("--host") { Description = "Address to listen on", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port") { Description = "Port to listen on", DefaultValueFactory = _ => 8080 };
        var replicas = new Option<string[]>("--replica") { Description = "Base address of a `jetnative serve` replica (repeat for each)" };
        var config = new Option<FileInfo?>("--config") { Description = "A YARP config file (ReverseProxy section, e.g. deploy/gateway.json) instead of --replica" };
        var interval = new Option<string>("--health-interval") { Description = "How often each replica's GET /health is probed (e.g. 5s, 500ms)", DefaultValueFactory = _ => "5s" };
        var healthTimeout = new Option<string>("--health-timeout") { Description = "How long one probe may take", DefaultValueFactory = _ => "2s" };
        var failures = new Option<int>("--health-failures") { Description = "Failed probes in a row that take a replica out", DefaultValueFactory = _ => 2 };
        var activity = new Option<string>("--activity-timeout") { Description = "Longest a forwarded request may go without data moving", DefaultValueFactory = _ => "10m" };
        var apiKey = new Option<string?>("--api-key") { Description = "Require 'Authorization: Bearer KEY' on /v1/ requests (passed on to the replicas)" };
        var command = new Command("gateway", "Serve several `jetnative serve` replicas behind one address (YARP: health checks, least-requests balancing)")
        {
            host, port, replicas, config, interval, healthTimeout, failures, activity, apiKey,
        };

        command.SetAction(async (result, ct) =>
        {
            var options = new GatewayOptions
            {
                Host = result.GetValue(host)!,
                Port = result.GetValue(port),
                Replicas = (result.GetValue(replicas) ?? []).Select(ParseReplica).ToArray(),
                ConfigFile = result.GetValue(config)?.FullName,
                HealthInterval = ParseDuration(result.GetValue(interval)!, "--health-interval"),
                HealthTimeout = ParseDuration(result.GetValue(healthTimeout)!, "--health-timeout"),
                HealthFailureThreshold = result.GetValue(failures),
                ActivityTimeout = ParseDuration(result.GetValue(activity)!, "--activity-timeout"),
                ApiKey = result.GetValue(apiKey),
            };
            GatewayHost gateway;
            try { gateway = GatewayHost.Create(options); }
            catch (ArgumentException e) { throw new UsageException(e.Message); }
            await using (gateway)
            {
                await gateway.StartAsync(ct);
                io.Error.WriteLine($"gateway listening on {gateway.Address} -> " +
                    string.Join(", ", gateway.Replicas.Select(r => r.Address)) + " (Ctrl+C stops)");
                try { await Task.Delay(Timeout.Infinite, ct); }
                catch (OperationCanceledException) when (ct.IsCancellationRequested) { }
                await gateway.StopAsync(CancellationToken.None);
                io.Error.WriteLine("gateway stopped");
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Uri ParseReplica(string text)
    {
        if (Uri.TryCreate(text, UriKind.Absolute, out Uri? uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps))
            return uri;
        throw new UsageException($"--replica must be an http:// or https:// URL such as http://127.0.0.1:8081, not '{text}'");
    }

    /// <summary><c>500ms</c>, <c>5s</c>, <c>2m</c>, <c>1h</c>, or a plain number of seconds.</summary>
    internal static TimeSpan ParseDuration(string text, string option)
    {
        string t = text.Trim().ToLowerInvariant();
        (string number, double scale) = t.EndsWith("ms", StringComparison.Ordinal) ? (t[..^2], 0.001)
            : t.EndsWith('s') ? (t[..^1], 1.0)
            : t.EndsWith('m') ? (t[..^1], 60.0)
            : t.EndsWith('h') ? (t[..^1], 3600.0)
            : (t, 1.0);
        if (double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) && value > 0 && value * scale < TimeSpan.MaxValue.TotalSeconds)
            return TimeSpan.FromSeconds(value * scale);
        throw new UsageException($"{option} must be a positive duration such as 500ms, 5s or 2m, not '{text}'");
    }
}
