using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Spectre.Console;

namespace JetNative.Cli.Serving;

/// <summary>
/// <c>bench serve</c>'s output: the summary and latency tables (Spectre.Console, markdown border)
/// and the JSON file (the summary in <c>vllm bench serve</c>'s key names plus every request's figures).
/// </summary>
internal static class ServeBenchReport
{
    public static Table Summary(ServeBenchResult result)
    {
        ServeMetrics m = result.Metrics;
        var table = new Table().Border(TableBorder.Markdown);
        table.AddColumn("serving benchmark");
        table.AddColumn(new TableColumn("value").RightAligned());
        void Row(string name, string value) => table.AddRow(Markup.Escape(name), Markup.Escape(value));
        Row("model", result.Model);
        Row("successful requests", Int(m.Completed));
        Row("failed requests", Int(m.Failed));
        Row("max concurrency", result.Settings.MaxConcurrency is int c ? Int(c) : "none");
        Row("request rate (req/s)", double.IsPositiveInfinity(result.Settings.RequestRate) ? "inf" : F(result.Settings.RequestRate));
        Row("benchmark duration (s)", F(m.DurationS));
        Row("total input tokens", Int(m.TotalInputTokens));
        Row("total generated tokens", Int(m.TotalOutputTokens));
        Row("request throughput (req/s)", F(m.RequestThroughput));
        if (m.RequestGoodput is double goodput) Row($"request goodput (req/s) [{result.Settings.Slo}]", F(goodput));
        Row("output token throughput (tok/s)", F(m.OutputThroughput));
        Row("total token throughput (tok/s)", F(m.TotalTokenThroughput));
        return table;
    }

    public static Table Latencies(ServeMetrics m)
    {
        var table = new Table().Border(TableBorder.Markdown);
        table.AddColumn("latency (ms)");
        foreach (string column in new[] { "mean", "median", "p99", "std", "n" })
            table.AddColumn(new TableColumn(column).RightAligned());
        foreach (var (name, s) in Rows(m))
            table.AddRow(name, F(s.Mean), F(s.Median), F(s.P99), F(s.StdDev), Int(s.Count));
        return table;
    }

    public static JsonObject Json(ServeBenchResult result)
    {
        ServeMetrics m = result.Metrics;
        ServeBenchSettings s = result.Settings;
        var json = new JsonObject
        {
            ["date"] = DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture),
            ["base_url"] = s.BaseUrl.AbsoluteUri,
            ["endpoint"] = s.Endpoint,
            ["model"] = result.Model,
            ["num_prompts"] = s.NumPrompts,
            ["input_len"] = s.PromptText is null ? s.InputLen : null,
            ["output_len"] = s.OutputLen,
            ["request_rate"] = double.IsPositiveInfinity(s.RequestRate) ? "inf" : s.RequestRate,
            ["max_concurrency"] = s.MaxConcurrency,
            ["goodput_slo"] = s.Slo.IsEmpty ? null : s.Slo.ToString(),
            ["duration"] = m.DurationS,
            ["completed"] = m.Completed,
            ["failed"] = m.Failed,
            ["total_input_tokens"] = m.TotalInputTokens,
            ["total_output_tokens"] = m.TotalOutputTokens,
            ["request_throughput"] = m.RequestThroughput,
            ["request_goodput"] = m.RequestGoodput,
            ["output_throughput"] = m.OutputThroughput,
            ["total_token_throughput"] = m.TotalTokenThroughput,
        };
        foreach (var (name, stats) in Rows(m))
        {
            string key = name.ToLowerInvariant();
            json[$"mean_{key}_ms"] = stats.Mean;
            json[$"median_{key}_ms"] = stats.Median;
            json[$"p99_{key}_ms"] = stats.P99;
            json[$"std_{key}_ms"] = stats.StdDev;
        }
        RequestTiming[] all = result.Requests.ToArray();
        json["input_lens"] = new JsonArray(all.Select(r => (JsonNode?)r.PromptTokens).ToArray());
        json["output_lens"] = new JsonArray(all.Select(r => (JsonNode?)r.OutputTokens).ToArray());
        json["ttfts_ms"] = new JsonArray(all.Select(r => r.Success ? (JsonNode?)r.TtftMs : null).ToArray());
        json["e2els_ms"] = new JsonArray(all.Select(r => r.Success ? (JsonNode?)r.E2eMs : null).ToArray());
        json["itls_ms"] = new JsonArray(all.Select(r => (JsonNode?)new JsonArray(r.ItlMs.Select(v => (JsonNode?)v).ToArray())).ToArray());
        json["errors"] = new JsonArray(all.Select(r => (JsonNode?)r.Error).ToArray());
        return json;
    }

    public static void WriteJson(ServeBenchResult result, string path)
    {
        string? folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (folder is not null) Directory.CreateDirectory(folder);
        File.WriteAllText(path, Json(result).ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }

    private static IEnumerable<(string Name, LatencyStats Stats)> Rows(ServeMetrics m) =>
        [("TTFT", m.Ttft), ("TPOT", m.Tpot), ("ITL", m.Itl), ("E2EL", m.E2el)];

    private static string F(double v) => v.ToString("F2", CultureInfo.InvariantCulture);
    private static string Int(long v) => v.ToString(CultureInfo.InvariantCulture);
}
