using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using JetNative.Cli.Commands;
using JetNative.Gateway;
using JetNative.Tests.Support;
using Xunit;

namespace JetNative.Tests.Cli.Serving;

/// <summary><c>jetnative bench serve</c> end to end against the fake OpenAI-style server on loopback.</summary>
public sealed class BenchServeCommandTests : IAsyncLifetime
{
    private FakeOpenAiServer _server = null!;

    public async ValueTask InitializeAsync() => _server = await FakeOpenAiServer.StartAsync("s");

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    [Fact]
    public async Task Random_token_prompts_are_timed_and_reported_as_a_table_and_json()
    {
        _server.ChunkDelay = TimeSpan.FromMilliseconds(20);
        string json = Path.Combine(Path.GetTempPath(), $"jet-bench-serve-{Guid.NewGuid():N}.json");
        try
        {
            CliResult r = await CliRunner.RunAsync(["bench", "serve", "--base-url", _server.Address.AbsoluteUri, "--num-prompts", "12",
                "--input-len", "32", "--output-len", "6", "--max-concurrency", "4", "--goodput", "ttft:60000", "tpot:60000", "--json", json]);
            r.AssertOk();
            TestContext.Current.TestOutputHelper?.WriteLine("bench serve against the fake server:\n" + r.Out);

            Assert.Contains("| successful requests ", r.Out, StringComparison.Ordinal);
            Assert.Matches(@"\| successful requests\s+\|\s+12 \|", r.Out);
            Assert.Matches(@"\| total input tokens\s+\|\s+384 \|", r.Out);      // 12 x 32 ids, from the usage chunks
            Assert.Matches(@"\| total generated tokens\s+\|\s+72 \|", r.Out);   // 12 x 6
            Assert.Matches(@"\| model\s+\|\s+fake-model \|", r.Out);            // from GET /v1/models
            foreach (string row in new[] { "TTFT", "TPOT", "ITL", "E2EL" }) Assert.Matches($@"\| {row}\s+\|", r.Out);

            // What was sent: 13 requests (one untimed test request), token-id prompts, the usage and ignore_eos fields.
            Assert.Equal(13, _server.Completions);
            JsonObject body = _server.Bodies.Last();
            Assert.Equal(32, body["prompt"]!.AsArray().Count);
            Assert.All(body["prompt"]!.AsArray(), id => Assert.InRange(id!.GetValue<int>(), 0, 4095));
            Assert.Equal(6, body["max_tokens"]!.GetValue<int>());
            Assert.True(body["stream"]!.GetValue<bool>());
            Assert.True(body["stream_options"]!["include_usage"]!.GetValue<bool>());
            Assert.True(body["ignore_eos"]!.GetValue<bool>());
            Assert.Equal("fake-model", body["model"]!.GetValue<string>());
            Assert.InRange(_server.MaxInFlight, 1, 4);

            JsonNode result = JsonNode.Parse(await File.ReadAllTextAsync(json, TestContext.Current.CancellationToken))!;
            Assert.Equal(12, result["completed"]!.GetValue<int>());
            Assert.Equal(0, result["failed"]!.GetValue<int>());
            Assert.Equal(72, result["total_output_tokens"]!.GetValue<long>());
            Assert.All(result["output_lens"]!.AsArray(), n => Assert.Equal(6, n!.GetValue<int>()));
            Assert.All(result["itls_ms"]!.AsArray(), itl => Assert.Equal(5, itl!.AsArray().Count)); // 6 chunks, 5 gaps
            double duration = result["duration"]!.GetValue<double>();
            Assert.Equal(12 / duration, result["request_throughput"]!.GetValue<double>(), 6);
            Assert.Equal(72 / duration, result["output_throughput"]!.GetValue<double>(), 6);
            Assert.Equal(12 / duration, result["request_goodput"]!.GetValue<double>(), 6); // generous SLOs: all good
            // The server paused 20 ms between chunks: every gap the client timed is at least about that.
            Assert.True(result["median_itl_ms"]!.GetValue<double>() >= 15, $"median ITL {result["median_itl_ms"]} ms");
            Assert.True(result["median_tpot_ms"]!.GetValue<double>() >= 15, $"median TPOT {result["median_tpot_ms"]} ms");
            Assert.True(result["mean_e2el_ms"]!.GetValue<double>() > result["mean_ttft_ms"]!.GetValue<double>());
        }
        finally
        {
            File.Delete(json);
        }
    }

    [Fact]
    public async Task A_text_prompt_on_the_chat_endpoint_at_a_request_rate()
    {
        CliResult r = await CliRunner.RunAsync(["bench", "serve", "--base-url", _server.Address.AbsoluteUri, "--endpoint", "/v1/chat/completions",
            "--prompt", "tell me a story", "--model", "fake-model", "--num-prompts", "5", "--output-len", "3", "--request-rate", "50", "--ignore-eos", "false"]);
        r.AssertOk();
        Assert.Matches(@"\| successful requests\s+\|\s+5 \|", r.Out);
        Assert.Matches(@"\| request rate \(req/s\)\s+\|\s+50.00 \|", r.Out);
        JsonObject body = _server.Bodies.Last();
        Assert.Equal("tell me a story", body["messages"]![0]!["content"]!.GetValue<string>());
        Assert.Null(body["ignore_eos"]);
    }

    [Fact]
    public async Task Failed_requests_are_counted_left_out_and_reported()
    {
        _server.FailRequest = n => n % 3 == 0; // request 1 is the untimed test request: 2, 5, 8 of the timed 9 fail
        CliResult r = await CliRunner.RunAsync("bench", "serve", "--base-url", _server.Address.AbsoluteUri, "--num-prompts", "9",
            "--input-len", "8", "--output-len", "4", "--max-concurrency", "1");
        r.AssertOk();
        Assert.Matches(@"\| successful requests\s+\|\s+6 \|", r.Out);
        Assert.Matches(@"\| failed requests\s+\|\s+3 \|", r.Out);
        Assert.Matches(@"\| total generated tokens\s+\|\s+24 \|", r.Out);
        Assert.Contains("warning: 3 of 9 requests failed; the first: HTTP 500", r.Error, StringComparison.Ordinal);
        Assert.Contains("failed on purpose", r.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task When_every_timed_request_fails_the_command_fails()
    {
        _server.FailRequest = n => n > 1;
        CliResult r = await CliRunner.RunAsync("bench", "serve", "--base-url", _server.Address.AbsoluteUri, "--num-prompts", "3", "--input-len", "8", "--output-len", "2");
        r.AssertError(1, "all 3 requests failed; the first: HTTP 500");
    }

    [Fact]
    public async Task Bench_serve_through_the_gateway_reaches_both_replicas()
    {
        await using FakeOpenAiServer other = await FakeOpenAiServer.StartAsync("t");
        _server.ChunkDelay = other.ChunkDelay = TimeSpan.FromMilliseconds(10);
        await using GatewayHost gateway = GatewayHost.Create(new GatewayOptions { Port = 0, Replicas = [_server.Address, other.Address] }, logging => { });
        await gateway.StartAsync(TestContext.Current.CancellationToken);

        CliResult r = await CliRunner.RunAsync("bench", "serve", "--base-url", gateway.Address.AbsoluteUri, "--num-prompts", "16",
            "--input-len", "16", "--output-len", "8", "--max-concurrency", "8");
        r.AssertOk();
        Assert.Matches(@"\| successful requests\s+\|\s+16 \|", r.Out);
        Assert.Equal(17, _server.Completions + other.Completions);
        Assert.True(_server.Completions >= 3 && other.Completions >= 3, $"replicas got {_server.Completions} and {other.Completions}");
    }

    [Fact]
    public async Task A_stream_that_stalls_beyond_the_timeout_fails()
    {
        _server.Gate = new TaskCompletionSource(); // never released: every stream stalls after its first chunk
        CliResult r = await CliRunner.RunAsync("bench", "serve", "--base-url", _server.Address.AbsoluteUri, "--model", "fake-model",
            "--num-prompts", "2", "--input-len", "8", "--output-len", "4", "--timeout", "0.3");
        r.AssertError(1, "timed out after 0.3 s");
        Assert.Contains("the test request", r.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_server_that_is_not_there_is_one_error_line()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        CliResult r = await CliRunner.RunAsync("bench", "serve", "--base-url", $"http://127.0.0.1:{port}", "--num-prompts", "2");
        r.AssertError(1, "/v1/models failed");
    }

    [Fact]
    public async Task A_refused_test_request_stops_the_run_with_the_server_message()
    {
        // max_tokens beyond the fake server's limit: it answers 400 with an OpenAI error.
        CliResult r = await CliRunner.RunAsync("bench", "serve", "--base-url", _server.Address.AbsoluteUri, "--output-len", "100000", "--num-prompts", "3");
        r.AssertError(1, "the test request");
        Assert.Contains("max_tokens must be in", r.Error, StringComparison.Ordinal);
        Assert.Equal(1, _server.Completions);
    }

    [Theory]
    [InlineData("--num-prompts", "0", "--num-prompts must be >= 1")]
    [InlineData("--request-rate", "fast", "--request-rate must be")]
    [InlineData("--request-rate", "0", "--request-rate must be")]
    [InlineData("--max-concurrency", "0", "--max-concurrency must be >= 1")]
    [InlineData("--endpoint", "/v1/embeddings", "--endpoint must be")]
    [InlineData("--goodput", "ttft=5", "--goodput takes")]
    [InlineData("--base-url", "nowhere", "--base-url must be")]
    [InlineData("--timeout", "0", "--timeout must be")]
    public async Task Bad_options_are_usage_errors(string option, string value, string message)
    {
        CliResult r = await CliRunner.RunAsync("bench", "serve", option, value);
        r.AssertError(2, message);
        Assert.Equal(0, _server.Completions);
    }

    [Fact]
    public async Task Chat_needs_a_text_prompt()
    {
        CliResult r = await CliRunner.RunAsync("bench", "serve", "--endpoint", "/v1/chat/completions");
        r.AssertError(2, "give --prompt");
    }

    [Fact]
    public async Task Bench_keeps_its_own_options_next_to_the_serve_subcommand()
    {
        CliResult help = await CliRunner.RunAsync("bench", "--help");
        Assert.Equal(0, help.ExitCode);
        Assert.Contains("serve", help.Out, StringComparison.Ordinal);
        Assert.Contains("--n-prompt", help.Out, StringComparison.Ordinal);
        // bench's own validation still runs (before any model is loaded).
        (await CliRunner.RunAsync("bench", "-p", "0", "-n", "0")).AssertError(2, "nothing to measure");
        // bench's options are not serve's.
        CliResult wrong = await CliRunner.RunAsync("bench", "serve", "-p", "5");
        wrong.AssertError(2, "-p");
        Assert.Contains("(see 'jetnative bench serve --help')", wrong.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Rates_parse_as_inf_or_positive_numbers()
    {
        Assert.Equal(double.PositiveInfinity, BenchServeCommand.ParseRate("inf"));
        Assert.Equal(2.5, BenchServeCommand.ParseRate("2.5"));
    }
}
