using System.CommandLine;
using System.Globalization;
using JetNative.Cli.Serving;

namespace JetNative.Cli.Commands;

/// <summary>
/// <c>jetnative bench serve</c>: load-tests an OpenAI-compatible server (<c>jetnative serve</c>, a
/// gateway, or any other) the way <c>vllm bench serve</c> does and prints request and token
/// throughput, goodput, and TTFT / TPOT / ITL / end-to-end latency (mean, median, p99). A
/// subcommand of <c>bench</c>: <c>bench</c>'s own options keep working as before.
/// </summary>
internal static class BenchServeCommand
{
    public static Command Create(CliConsole io)
    {
        var baseUrl = new Option<string>("--base-url") { Description = "The server's base address", DefaultValueFactory = _ => "http://127.0.0.1:8080" };
        var endpoint = new Option<string>("--endpoint") { Description = "/v1/completions or /v1/chat/completions (text prompts only)", DefaultValueFactory = _ => ServeBenchSettings.CompletionsEndpoint };
        var model = new Option<string?>("--model", "-m") { Description = "Model name to send (default: the first of GET /v1/models)" };
        var numPrompts = new Option<int>("--num-prompts") { Description = "Requests to send", DefaultValueFactory = _ => 100 };
        var inputLen = new Option<int>("--input-len") { Description = "Tokens of each random prompt (sent as token ids)", DefaultValueFactory = _ => 1024 };
        var prompt = new Option<string?>("--prompt") { Description = "A fixed text prompt for every request instead of random token ids" };
        var outputLen = new Option<int>("--output-len") { Description = "max_tokens of each request", DefaultValueFactory = _ => 128 };
        var ignoreEos = new Option<bool>("--ignore-eos") { Description = "Send \"ignore_eos\": true so that every answer has --output-len tokens", DefaultValueFactory = _ => true };
        var rate = new Option<string>("--request-rate") { Description = "Requests per second (Poisson arrivals), or inf to send all at once", DefaultValueFactory = _ => "inf" };
        var concurrency = new Option<int?>("--max-concurrency") { Description = "Most requests in flight at once (default: no limit)" };
        var seed = new Option<int>("--seed", "-s") { Description = "Seed of the random prompts and arrival times", DefaultValueFactory = _ => 0 };
        var vocab = new Option<int>("--vocab-size") { Description = "Random token ids are drawn from [0, N); 4096 fits the demo model and the 2B", DefaultValueFactory = _ => 4096 };
        var apiKey = new Option<string?>("--api-key") { Description = "Sent as 'Authorization: Bearer KEY'" };
        var goodput = new Option<string[]>("--goodput") { Description = "SLOs in ms for goodput, e.g. ttft:500 tpot:50 e2el:2000", AllowMultipleArgumentsPerToken = true };
        var timeout = new Option<double>("--timeout") { Description = "Seconds one request may take", DefaultValueFactory = _ => 600 };
        var json = new Option<FileInfo?>("--json") { Description = "Also write the results (summary and per-request figures) to this JSON file" };
        var command = new Command("serve", "Benchmark an OpenAI-compatible server: throughput, TTFT, TPOT, ITL, goodput (vllm bench serve style)")
        {
            baseUrl, endpoint, model, numPrompts, inputLen, prompt, outputLen, ignoreEos, rate, concurrency, seed, vocab, apiKey, goodput, timeout, json,
        };

        command.SetAction(async (result, ct) =>
        {
            string url = result.GetValue(baseUrl)!;
            if (!Uri.TryCreate(url, UriKind.Absolute, out Uri? uri)) throw new UsageException($"--base-url must be an absolute URL, not '{url}'");
            double seconds = result.GetValue(timeout);
            if (!(seconds > 0) || double.IsInfinity(seconds)) throw new UsageException($"--timeout must be a positive number of seconds, not {seconds}");
            var settings = new ServeBenchSettings
            {
                BaseUrl = uri,
                Endpoint = result.GetValue(endpoint)!,
                Model = result.GetValue(model),
                NumPrompts = result.GetValue(numPrompts),
                InputLen = result.GetValue(inputLen),
                PromptText = result.GetValue(prompt),
                OutputLen = result.GetValue(outputLen),
                IgnoreEos = result.GetValue(ignoreEos),
                RequestRate = ParseRate(result.GetValue(rate)!),
                MaxConcurrency = result.GetValue(concurrency),
                Seed = result.GetValue(seed),
                VocabSize = result.GetValue(vocab),
                ApiKey = result.GetValue(apiKey),
                Slo = GoodputSlo.Parse(result.GetValue(goodput) ?? []),
                Timeout = TimeSpan.FromSeconds(seconds),
            };
            settings.Validate();

            using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = int.MaxValue, PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
            {
                Timeout = Timeout.InfiniteTimeSpan, // each request has its own (--timeout)
            };
            ServeBenchResult run = await SpectreConsoles.WithProgressAsync(io, "bench serve",
                progress => ServeBenchmark.RunAsync(settings, http, progress, ct));

            io.Out.Write(SpectreConsoles.RenderPlain(ServeBenchReport.Summary(run)));
            io.Out.WriteLine();
            io.Out.Write(SpectreConsoles.RenderPlain(ServeBenchReport.Latencies(run.Metrics)));
            io.Out.Flush();
            if (result.GetValue(json) is FileInfo file)
            {
                ServeBenchReport.WriteJson(run, file.FullName);
                io.Error.WriteLine($"results written to {file.FullName}");
            }
            string? firstError = run.Requests.FirstOrDefault(r => r.Error is not null)?.Error;
            if (run.Metrics.Completed == 0)
                throw new InvalidOperationException($"all {run.Requests.Count} requests failed; the first: {firstError ?? "no text streamed"}");
            if (run.Metrics.Failed > 0)
                io.Error.WriteLine($"warning: {run.Metrics.Failed} of {run.Requests.Count} requests failed; the first: {firstError ?? "no text streamed"}");
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary><c>inf</c> or a positive number of requests per second.</summary>
    internal static double ParseRate(string text)
    {
        if (text.Equals("inf", StringComparison.OrdinalIgnoreCase)) return double.PositiveInfinity;
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double rate) && rate > 0 && !double.IsInfinity(rate))
            return rate;
        throw new UsageException($"--request-rate must be a positive number of requests per second or inf, not '{text}'");
    }
}
