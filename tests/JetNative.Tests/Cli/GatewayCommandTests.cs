using System.Net;
using System.Text.RegularExpressions;
using JetNative.Cli;
using JetNative.Cli.Commands;
using JetNative.Tests.Support;
using Xunit;

namespace JetNative.Tests.Cli;

/// <summary><c>jetnative gateway</c>: flags, errors, and a real run in front of a fake replica until cancelled.</summary>
public sealed class GatewayCommandTests
{
    [Fact]
    public async Task The_gateway_runs_until_cancelled_and_forwards_to_its_replica()
    {
        await using FakeOpenAiServer replica = await FakeOpenAiServer.StartAsync("r");
        var output = new StringWriter();
        var error = new StringWriter();
        TextWriter syncError = TextWriter.Synchronized(error);
        using var stop = new CancellationTokenSource();
        Task<int> run = CliApp.RunAsync(["gateway", "--port", "0", "--replica", replica.Address.AbsoluteUri, "--health-interval", "200ms"],
            new CliConsole(TextWriter.Synchronized(output), syncError, new StringReader("")), stop.Token);
        try
        {
            string Err() { lock (syncError) return error.ToString(); }
            await Poll.UntilAsync(() => Err().Contains("gateway listening on", StringComparison.Ordinal) || run.IsCompleted, "the gateway says where it listens");
            Match address = Regex.Match(Err(), @"gateway listening on (http://\S+)");
            Assert.True(address.Success, $"stderr: {Err()}");

            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
            using HttpResponseMessage health = await http.GetAsync(new Uri(new Uri(address.Groups[1].Value), "/health"), TestContext.Current.CancellationToken);
            Assert.Equal(HttpStatusCode.OK, health.StatusCode);
            using HttpResponseMessage models = await http.GetAsync(new Uri(new Uri(address.Groups[1].Value), "/v1/models"), TestContext.Current.CancellationToken);
            Assert.Contains(FakeOpenAiServer.ModelId, await models.Content.ReadAsStringAsync(TestContext.Current.CancellationToken), StringComparison.Ordinal);
        }
        finally
        {
            stop.Cancel();
        }
        Assert.Equal(ExitCodes.Ok, await run.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken));
        Assert.Contains("gateway stopped", error.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new[] { "gateway" }, "no replica")]
    [InlineData(new[] { "gateway", "--replica", "ftp://127.0.0.1:1" }, "--replica must be an http://")]
    [InlineData(new[] { "gateway", "--replica", "http://127.0.0.1:1", "--health-interval", "0s" }, "--health-interval must be a positive duration")]
    [InlineData(new[] { "gateway", "--replica", "http://127.0.0.1:1", "--health-interval", "often" }, "--health-interval must be a positive duration")]
    [InlineData(new[] { "gateway", "--replica", "http://127.0.0.1:1", "--port", "70000" }, "port must be in 0..65535")]
    [InlineData(new[] { "gateway", "--replica", "http://127.0.0.1:1", "--health-failures", "0" }, "threshold must be >= 1")]
    [InlineData(new[] { "gateway", "--replica", "http://127.0.0.1:1", "--config", "deploy/gateway.json" }, "not both")]
    public async Task Bad_flags_are_usage_errors(string[] args, string message)
    {
        CliResult r = await CliRunner.RunAsync(args);
        r.AssertError(2, message);
    }

    [Fact]
    public async Task A_missing_config_file_is_a_runtime_error()
    {
        CliResult r = await CliRunner.RunAsync("gateway", "--config", "/nonexistent/gateway.json");
        r.AssertError(1, "gateway config file not found");
    }

    [Theory]
    [InlineData("500ms", 0.5)]
    [InlineData("5s", 5)]
    [InlineData("2m", 120)]
    [InlineData("1h", 3600)]
    [InlineData("1.5", 1.5)]
    public void Durations_parse_with_units(string text, double seconds)
    {
        Assert.Equal(TimeSpan.FromSeconds(seconds), GatewayCommand.ParseDuration(text, "--x"));
    }
}
