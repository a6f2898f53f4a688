using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using JetNative.Search.Accounting;
using JetNative.Search;
using Spectre.Console;

namespace JetNative.Cli.Commands;

/// <summary>
/// <c>jetnative search</c>: PostNAS step 4 on your own hardware. From a base config (default the
/// 2B's), lists JetBlock (dK, dV, H) candidates with the base's recurrent-state size (or within
/// <c>--budget</c>), builds each as a random-weight model, times prefill and decode at the context
/// on <c>--device</c>, and prints a table with the Pareto front marked; saves it as CSV and a chart.
/// <c>--dry-run</c> prints the cache accounting and the candidates without building anything (and writes no CSV or chart).
/// </summary>
internal static class SearchCommand
{
    public static Command Create(CliConsole io)
    {
        var baseConfig = new Option<string>("--base") { Description = "Base config: 2b, 4b, demo, a config.json or a checkpoint folder", DefaultValueFactory = _ => "2b" };
        var ctx = new Option<int>("--ctx-size", "-c") { Description = "Context of the timed prefill; decode runs at this depth (0 = 65536 on CUDA, 256 on CPU)", DefaultValueFactory = _ => 0 };
        var gen = new Option<int>("--n-gen", "-n") { Description = "Decode steps timed per repetition", DefaultValueFactory = _ => 32 };
        var batch = new Option<int>("--batch", "-b") { Description = "Sequences per decode step", DefaultValueFactory = _ => 1 };
        var reps = new Option<int>("--repetitions", "-r") { Description = "Timed repetitions per candidate (after one warm-up)", DefaultValueFactory = _ => 3 };
        var budget = new Option<string?>("--budget") { Description = "Cache budget per sequence at the context (e.g. 160MiB) instead of the base's recurrent-state size" };
        var tolerance = new Option<double?>("--tolerance") { Description = "How far below the target a candidate may be (fraction; default 0 for the state size, 0.05 for a budget)" };
        var heads = new Option<string>("--heads") { Description = "JetBlock head counts to try", DefaultValueFactory = _ => "4,6,8,12,16,24" };
        var keyDims = new Option<string>("--key-dims") { Description = "Key dims per head (dK) to try", DefaultValueFactory = _ => "64,96,128,192,256" };
        var valueStep = new Option<int>("--value-step") { Description = "Value dims per head (dV) are multiples of this", DefaultValueFactory = _ => 16 };
        var candidates = new Option<string?>("--candidates") { Description = "Explicit candidates dK/dV/H, comma-separated (e.g. 96/256/12,192/192/8)" };
        var csv = new Option<FileInfo>("--csv") { Description = "Where to save the table as CSV", DefaultValueFactory = _ => new FileInfo("jetnative-search.csv") };
        var chart = new Option<FileInfo>("--chart") { Description = "Where to save the chart (.png or .svg)", DefaultValueFactory = _ => new FileInfo("jetnative-search.png") };
        var gpuMemory = new Option<string>("--gpu-memory") { Description = "Memory for the largest-batch column", DefaultValueFactory = _ => "80GiB" };
        var replot = new Option<FileInfo?>("--replot") { Description = "Print and chart a CSV saved by an earlier search instead of searching" };
        var dryRun = new Option<bool>("--dry-run") { Description = "Print the cache accounting and the candidates only; build and time nothing" };
        var seed = new Option<long>("--seed", "-s") { Description = "Seed of the random weights", DefaultValueFactory = _ => 1 };
        var threads = new Option<int>("--threads", "-t") { Description = "CPU threads (0 = all cores)", DefaultValueFactory = _ => 0 };
        var device = new Option<string>("--device") { Description = "Device: cpu, cuda or cuda:N", DefaultValueFactory = _ => "cpu" };
        var command = new Command("search", "Search JetBlock key/value dims and heads at a fixed cache size (PostNAS step 4) and time them")
        {
            baseConfig, ctx, gen, batch, reps, budget, tolerance, heads, keyDims, valueStep, candidates, csv, chart, gpuMemory, replot, dryRun, seed, threads, device,
        };

        command.SetAction(async (result, ct) =>
        {
            var (options, label) = ReadOptions(result, baseConfig, ctx, gen, batch, reps, budget, tolerance, heads, keyDims, valueStep, candidates, seed, threads, device);
            long memory = Units.ParseBytes(result.GetValue(gpuMemory)!, "--gpu-memory");
            FileInfo csvFile = result.GetValue(csv)!, chartFile = result.GetValue(chart)!;
            string chartExt = chartFile.Extension.ToLowerInvariant();
            if (chartExt is not ".png" and not ".svg") throw new UsageException($"--chart must end in .png or .svg, not '{chartFile.Name}'");

            if (result.GetValue(replot) is FileInfo saved)
            {
                if (!saved.Exists) throw new FileNotFoundException($"--replot: file not found: {saved.FullName}", saved.FullName);
                var (savedRows, savedDevice) = SearchCsv.Read(File.ReadAllText(saved.FullName));
                if (savedRows.Count == 0) throw new InvalidDataException($"--replot: {saved.FullName} has no rows");
                WriteTable(io, savedRows, savedDevice, memory);
                SaveChart(io, savedRows, label, savedDevice, chartFile);
                return ExitCodes.Ok;
            }

            SearchPlan plan;
            try { plan = ArchitectureSearch.Plan(options); }
            catch (ArgumentException e) { throw new UsageException(e.Message); }

            WriteHeader(io, plan, label, memory);
            IReadOnlyList<SearchResult> rows;
            bool dry = result.GetValue(dryRun);
            if (dry)
            {
                rows = ArchitectureSearch.Finish(ArchitectureSearch.Describe(plan));
            }
            else
            {
                if (options.Model.Device == JetDevice.Cuda && JetNativeLibrary.CudaDeviceCount < 1)
                    throw new JetException(JetStatus.Device, "--device cuda: this libjet.so has no CUDA backend or no GPU is visible");
                var clock = Stopwatch.StartNew();
                // Each finished candidate rewrites the CSV, so a run cut short keeps what it measured.
                var partial = new List<SearchResult>();
                Directory.CreateDirectory(csvFile.DirectoryName ?? ".");
                var progress = new LineProgress(io, clock, row =>
                {
                    partial.Add(row);
                    File.WriteAllText(csvFile.FullName, SearchCsv.Write(ArchitectureSearch.Finish(partial), plan.Model.Device));
                });
                rows = await Task.Run(() => ArchitectureSearch.Run(plan, progress, ct), ct);
                io.Error.WriteLine($"search: {rows.Count} candidates in {clock.Elapsed.TotalSeconds:F1} s");
            }
            WriteTable(io, rows, plan.Model.Device, memory);

            if (dry) return ExitCodes.Ok;  // a dry run measures nothing, so it saves nothing
            Directory.CreateDirectory(csvFile.DirectoryName ?? ".");
            File.WriteAllText(csvFile.FullName, SearchCsv.Write(rows, plan.Model.Device));
            io.Error.WriteLine($"search: table saved to {csvFile.FullName}");
            SaveChart(io, rows, label, plan.Model.Device, chartFile);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static (SearchOptions Options, string Label) ReadOptions(ParseResult result, Option<string> baseConfig, Option<int> ctx, Option<int> gen,
        Option<int> batch, Option<int> reps, Option<string?> budget, Option<double?> tolerance, Option<string> heads, Option<string> keyDims,
        Option<int> valueStep, Option<string?> candidates, Option<long> seed, Option<int> threads, Option<string> device)
    {
        string deviceText = result.GetValue(device) ?? "cpu";
        (JetDevice dev, int index) parsed;
        try { parsed = JetModelOptions.ParseDevice(deviceText); }
        catch (ArgumentException) { throw new UsageException($"--device must be cpu, cuda or cuda:N, not '{deviceText}'"); }
        int t = result.GetValue(threads);
        if (t < 0) throw new UsageException($"--threads must be >= 0, not {t}");
        int context = result.GetValue(ctx);
        if (context < 0) throw new UsageException($"--ctx-size must be >= 0, not {context}");
        if (context == 0) context = parsed.dev == JetDevice.Cuda ? 65536 : 256;
        int n = result.GetValue(gen), b = result.GetValue(batch), r = result.GetValue(reps);
        if (n < 1) throw new UsageException($"--n-gen must be >= 1, not {n}");
        if (b < 1) throw new UsageException($"--batch must be >= 1, not {b}");
        if (r < 1) throw new UsageException($"--repetitions must be >= 1, not {r}");
        long s = result.GetValue(seed);
        if (s < 0) throw new UsageException($"--seed must be >= 0, not {s}");
        double? tol = result.GetValue(tolerance);
        if (tol is double tv && !(tv >= 0 && tv < 1)) throw new UsageException($"--tolerance must be in [0, 1), not {tv.ToString(CultureInfo.InvariantCulture)}");
        int step = result.GetValue(valueStep);
        if (step < 1) throw new UsageException($"--value-step must be >= 1, not {step}");

        var (json, label) = ConfigSource.Read(result.GetValue(baseConfig) ?? "2b", "--base");
        SearchConstraint? constraint = null;
        if (result.GetValue(budget) is string budgetText)
            constraint = SearchConstraint.Budget(Units.ParseBytes(budgetText, "--budget"), tol ?? 0.05);
        else if (tol is double stateTol)
        {
            try { constraint = SearchConstraint.SameStateAs(ModelShape.FromConfigJson(json), stateTol); }
            catch (ArgumentException e) { throw new UsageException(e.Message); }
        }
        IReadOnlyList<JetBlockDims>? list = null;
        if (result.GetValue(candidates) is string c)
        {
            try { list = Split(c).Select(JetBlockDims.Parse).ToList(); }
            catch (FormatException e) { throw new UsageException($"--candidates: {e.Message}"); }
        }
        var options = new SearchOptions
        {
            BaseConfigJson = json,
            Constraint = constraint,
            Space = new SearchSpace { JetNumHeads = IntList(result.GetValue(heads)!, "--heads"), JetHeadKDims = IntList(result.GetValue(keyDims)!, "--key-dims"), JetHeadVDimStep = step },
            Candidates = list,
            Measure = new MeasureSettings { Context = context, DecodeTokens = n, Batch = b, Repetitions = r },
            Model = new JetModelOptions { Device = parsed.dev, DeviceIndex = parsed.index, Threads = t },
            Seed = (ulong)s,
        };
        return (options, label);
    }


    private static IEnumerable<string> Split(string text) => text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static IReadOnlyList<int> IntList(string text, string option)
    {
        var values = new List<int>();
        foreach (string part in Split(text))
        {
            if (!int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out int v) || v < 1)
                throw new UsageException($"{option} takes positive integers separated by commas, not '{text}'");
            values.Add(v);
        }
        if (values.Count == 0) throw new UsageException($"{option} is empty");
        return values;
    }

    private static void WriteHeader(CliConsole io, SearchPlan plan, string label, long memory)
    {
        var inv = CultureInfo.InvariantCulture;
        ModelShape b = plan.Base;
        long ctx = plan.Measure.Context;
        JetModelInfo info = b.Info;
        JetCacheBreakdown cache = CacheAccounting.PerSequence(b, ctx, plan.Device);
        // The same config with every layer full attention, sized by the engine; Qwen3 at the engine's K/V element size there.
        long sameKv = CacheAccounting.PerSequence(b.WithFullAttention(), ctx, plan.Device).Total;
        int kvElement = (int)(sameKv / ((long)info.NumLayers * ctx * 2 * info.NumKeyValueHeads * info.HeadDim));
        var qwen = FullAttentionShape.Qwen3_1_7B;
        long qwenKv = qwen.KvBytes(ctx, kvElement);
        long weights = info.WeightBytes; // bf16, as both devices keep them
        string Ratio(long x) => (x / (double)cache.Total).ToString("F1", inv) + "x";
        var o = io.Out;
        o.WriteLine($"base:        {label}: JetBlock {b.JetBlock} (dK/dV/heads), {info.JetLayerCount} jet + {info.AttentionLayerCount} attn + {info.SlidingWindowLayerCount} swa layers, {Units.Count(b.ParameterCount)} params");
        o.WriteLine($"device:      {(plan.Model.Device == JetDevice.Cuda ? $"cuda:{plan.Model.DeviceIndex}" : "cpu")}, cache K/V {kvElement * 8}-bit, JetBlock states 32-bit");
        o.WriteLine($"timing:      prefill of {ctx.ToString(inv)} tokens, then {plan.Measure.DecodeTokens} decode steps x batch {plan.Measure.Batch}; mean of {plan.Measure.Repetitions} after a warm-up");
        o.WriteLine($"constraint:  {plan.Constraint}");
        o.WriteLine($"cache @ {ctx.ToString(inv)}: {ByteSize.Mebibytes(cache.Total)} per sequence = full-attn KV {ByteSize.Mebibytes(cache.AttentionKv)} + SWA {ByteSize.Mebibytes(cache.SlidingWindowKv)} + JetBlock state {ByteSize.Mebibytes(cache.JetState)} + conv {ByteSize.Mebibytes(cache.JetConv)}");
        o.WriteLine($"  vs full attention, same dims ({info.NumLayers} x {info.NumKeyValueHeads} KV heads x {info.HeadDim}): {ByteSize.Mebibytes(sameKv)} ({Ratio(sameKv)})");
        o.WriteLine($"  vs {qwen.Name} (full attention, {qwen.Layers} x {qwen.KeyValueHeads} KV heads x {qwen.HeadDim}): {ByteSize.Mebibytes(qwenKv)} ({Ratio(qwenKv)})");
        o.WriteLine($"largest batch in {Units.Bytes(memory)} (weights {Units.Bytes(weights)}, 1 GiB reserve): {MaxBatch(cache.Total, memory, weights)} sequences" +
                    $" (full attention, same dims: {MaxBatch(sameKv, memory, weights)})");
        o.WriteLine($"candidates:  {plan.Candidates.Count}");
        o.WriteLine();
    }

    private static string MaxBatch(long perSeq, long memory, long weights) =>
        CacheAccounting.MaxBatch(perSeq, memory, weights, 1L << 30).ToString(CultureInfo.InvariantCulture);

    private static void SaveChart(CliConsole io, IReadOnlyList<SearchResult> rows, string label, JetDevice device, FileInfo chartFile)
    {
        if (!rows.Any(r => r.Throughput is not null))
        {
            io.Error.WriteLine("search: no candidate was measured, so there is no chart");
            return;
        }
        Directory.CreateDirectory(chartFile.DirectoryName ?? ".");
        SearchChart.Save(rows, label, device, chartFile.FullName);
        io.Error.WriteLine($"search: chart saved to {chartFile.FullName}");
    }

    private static void WriteTable(CliConsole io, IReadOnlyList<SearchResult> rows, JetDevice device, long memory)
    {
        var inv = CultureInfo.InvariantCulture;
        var table = new Table().Border(TableBorder.Markdown);
        table.AddColumn("dK/dV/heads");
        table.AddColumn(new TableColumn("params").RightAligned());
        table.AddColumn(new TableColumn($"cache MiB @ {rows[0].Cache.Context.ToString(inv)}").RightAligned());
        table.AddColumn(new TableColumn("prefill tok/s").RightAligned());
        table.AddColumn(new TableColumn("decode tok/s").RightAligned());
        table.AddColumn(new TableColumn("prefill x base").RightAligned());
        table.AddColumn(new TableColumn("decode x base").RightAligned());
        table.AddColumn(new TableColumn($"max batch @ {Units.Bytes(memory)}").RightAligned());
        table.AddColumn("pareto");
        foreach (SearchResult r in rows)
        {
            long weights = r.Parameters * (device == JetDevice.Cuda ? 2 : 4); // bf16 on the GPU, fp32 on the CPU
            string name = r.Dims + (r.IsBase ? " (base)" : "");
            string prefill = r.Throughput is { } t ? $"{t.Prefill.Mean.ToString("F1", inv)} ± {t.Prefill.StdDev.ToString("F1", inv)}" : r.Error is null ? "-" : "failed";
            string decode = r.Throughput is { } u ? $"{u.Decode.Mean.ToString("F2", inv)} ± {u.Decode.StdDev.ToString("F2", inv)}" : r.Error is null ? "-" : "failed";
            table.AddRow(Markup.Escape(name), Units.Count(r.Parameters), (r.Cache.Total / 1048576.0).ToString("F2", inv), prefill, decode,
                r.PrefillRelative?.ToString("F3", inv) ?? "-", r.DecodeRelative?.ToString("F3", inv) ?? "-",
                MaxBatch(r.Cache.Total, memory, weights), r.OnParetoFront ? "*" : "");
        }
        io.Out.Write(SpectreConsoles.RenderPlain(table));
        foreach (SearchResult r in rows.Where(r => r.Error is not null))
            io.Out.WriteLine($"{r.Dims}: not measured: {r.Error}");
        if (rows.Any(r => r.Throughput is not null))
            io.Out.WriteLine("pareto: * = no other candidate has at least as many parameters and as high prefill and decode tok/s, and more of one");
        io.Out.Flush();
    }

    /// <summary>One progress line per candidate on stderr (works in logs and terminals alike).</summary>
    private sealed class LineProgress(CliConsole io, Stopwatch clock, Action<SearchResult> finished) : IProgress<SearchProgress>
    {
        public void Report(SearchProgress p)
        {
            string at = $"[{p.Index + 1}/{p.Count}] {p.Dims}";
            var inv = CultureInfo.InvariantCulture;
            if (p.Stage == "building")
                io.Error.WriteLine($"search: {at}: building and timing ({clock.Elapsed.TotalSeconds.ToString("F0", inv)} s elapsed, {(p.Fraction * 100).ToString("F0", inv)}% done)");
            else if (p.Stage == "done" && p.Result is { } r)
            {
                finished(r);
                io.Error.WriteLine(r.Throughput is { } t
                    ? $"search: {at}: prefill {t.Prefill.Mean.ToString("F1", inv)} tok/s, decode {t.Decode.Mean.ToString("F2", inv)} tok/s"
                    : $"search: {at}: failed: {r.Error}");
            }
        }
    }
}
