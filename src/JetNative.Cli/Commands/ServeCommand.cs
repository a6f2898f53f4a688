using System.CommandLine;
using System.Globalization;
using JetNative.Server;

namespace JetNative.Cli.Commands;

/// <summary>
/// <c>jetnative serve [-m MODEL] [--device cpu|cuda[:N]] [--host H] [--port P] [--max-seqs N] [-c CTX]
/// [--api-key KEY] [--max-queue N] [--timeout S] [--engines N | --devices 0,1]</c>: an OpenAI-compatible
/// server (see docs/serving.md) until Ctrl+C or SIGTERM, which drain it.
/// </summary>
internal static class ServeCommand
{
    public static Command Create(CliConsole io)
    {
        var model = new ModelOptions();
        model.CtxSize.Aliases.Add("--ctx");
        model.CtxSize.Description = "Context size in tokens per sequence (0 = the model's maximum capped at 4096)";
        var host = new Option<string>("--host") { Description = "Address to listen on: an IP address or localhost", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port") { Description = "TCP port (0 = any free port)", DefaultValueFactory = _ => 8080 };
        var maxSeqs = new Option<int>("--max-seqs") { Description = "Sequences decoded together per engine (slots)", DefaultValueFactory = _ => 8 };
        var apiKey = new Option<string?>("--api-key") { Description = "Require 'Authorization: Bearer KEY' on /v1 routes" };
        var maxQueue = new Option<int>("--max-queue") { Description = "Requests that may wait per engine (429 beyond)", DefaultValueFactory = _ => 256 };
        var timeout = new Option<double>("--timeout") { Description = "Per-request time limit in seconds (0 = none)", DefaultValueFactory = _ => 0 };
        var engines = new Option<int>("--engines") { Description = "Engines on the CPU (data parallel; cuda: one per GPU)", DefaultValueFactory = _ => 1 };
        var devices = new Option<string?>("--devices") { Description = "CUDA devices, one engine each, e.g. 0,1 (default with --device cuda: all)" };
        var prefixSlots = new Option<int>("--prefix-slots") { Description = "Slots per engine kept for prompt-prefix snapshots (0 = no prefix reuse)", DefaultValueFactory = _ => 2 };
        var prefillChunk = new Option<int>("--prefill-chunk") { Description = "Prompt tokens prefilled between two decode steps", DefaultValueFactory = _ => 256 };
        var command = new Command("serve", "Serve the model over an OpenAI-compatible HTTP API with continuous batching")
        {
            host, port, maxSeqs, apiKey, maxQueue, timeout, engines, devices, prefixSlots, prefillChunk,
        };
        model.AddTo(command);

        command.SetAction(async (result, ct) =>
        {
            ModelArgs args = model.Read(result);
            string deviceText = (result.GetValue(model.Device) ?? "cpu").Trim().ToLowerInvariant();
            IReadOnlyList<int> cudaDevices = ReadDevices(args.Options, deviceText, result.GetValue(devices), result.GetValue(engines));
            double seconds = result.GetValue(timeout);
            if (!double.IsFinite(seconds) || seconds < 0) throw new UsageException($"--timeout must be >= 0 seconds, not {seconds}");
            var options = new JetServerOptions
            {
                Host = result.GetValue(host) ?? "127.0.0.1",
                Port = result.GetValue(port),
                MaxSequences = result.GetValue(maxSeqs),
                Context = args.CtxSize,
                AllowLongContext = args.AllowLongContext,
                ApiKey = result.GetValue(apiKey),
                MaxQueue = result.GetValue(maxQueue),
                Timeout = seconds > 0 ? TimeSpan.FromSeconds(seconds) : null,
                CpuEngines = result.GetValue(engines),
                PrefixSlots = result.GetValue(prefixSlots),
                PrefillChunk = result.GetValue(prefillChunk),
                Device = args.Options.Device,
                CudaDevices = cudaDevices,
                Threads = args.Options.Threads,
            };
            options = options with { ModelPath = ModelLoader.Resolve(args.Model) };
            try { options.Validate(); }
            catch (ArgumentException e) { throw new UsageException(e.Message); }

            // The CPU model is loaded here (with the progress bar); CUDA engines load one model per device.
            JetModel? loaded = options.Device == JetDevice.Cpu ? await ModelLoader.LoadAsync(io, args, ct) : null;
            JetServer server;
            try
            {
                server = await JetServer.StartAsync(options with { Model = loaded }, cancellationToken: ct);
            }
            catch
            {
                loaded?.Dispose();
                throw;
            }
            try
            {
                EngineSummary(io, server);
                // Ctrl+C (ct) or SIGTERM (the host's own lifetime) ends it; StopAsync drains first.
                await server.WaitForShutdownAsync(CancellationToken.None).WaitAsync(ct).ContinueWith(_ => { }, CancellationToken.None);
            }
            finally
            {
                await server.StopAsync(CancellationToken.None);
                loaded?.Dispose();
                io.Error.WriteLine("jetnative serve: stopped");
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    private static void EngineSummary(CliConsole io, JetServer server)
    {
        var r = server.Router;
        io.Error.WriteLine($"jetnative serve: {server.ModelId} on {server.BaseAddress} ({r.Schedulers.Count} engine(s) x {r.SlotsPerEngine} slots, " +
                           $"context {r.Context}){(server.Options.ApiKey is null ? "" : ", API key required")}; Ctrl+C drains and stops");
        io.Error.Flush();
    }

    /// <summary>The CUDA devices to serve on (empty for the CPU), checking --devices and --engines against --device.</summary>
    internal static IReadOnlyList<int> ReadDevices(JetModelOptions model, string deviceText, string? devices, int engines)
    {
        if (engines < 1) throw new UsageException($"--engines must be >= 1, not {engines}");
        if (model.Device == JetDevice.Cpu)
        {
            if (devices is not null) throw new UsageException("--devices needs --device cuda");
            return [];
        }
        if (engines != 1) throw new UsageException("--engines is for the CPU; with --device cuda use --devices 0,1");
        if (devices is not null)
        {
            if (deviceText != "cuda") throw new UsageException($"give either --device {deviceText} or --devices, not both");
            var list = new List<int>();
            foreach (string part in devices.Split(',', StringSplitOptions.TrimEntries))
            {
                if (!int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out int d))
                    throw new UsageException($"--devices takes CUDA device indices like 0,1, not '{devices}'");
                if (list.Contains(d)) throw new UsageException($"--devices names device {d} twice");
                list.Add(d);
            }
            return list;
        }
        if (deviceText != "cuda") return [model.DeviceIndex];
        int count = JetNativeLibrary.CudaDeviceCount;
        if (count == 0) throw new JetException(JetStatus.Device, "--device cuda: no CUDA device found (or libjet was built without CUDA)");
        return [.. Enumerable.Range(0, count)];
    }
}
