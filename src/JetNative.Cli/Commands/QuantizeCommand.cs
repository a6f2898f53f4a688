using System.CommandLine;

namespace JetNative.Cli.Commands;

/// <summary>
/// <c>jetnative quantize -m IN -o OUT --type int8|fp8 [--group-size N]</c>: writes a weight-only
/// quantized copy of a checkpoint (every linear layer's weight as INT8 or FP8 e4m3 with float scales
/// per output channel or per group of N inputs; config.json gains "quantization_config"; the
/// tokenizer is copied), which <c>generate</c>, <c>eval</c>, <c>bench</c> and the library load like
/// any checkpoint (docs/quantization.md).
/// </summary>
internal static class QuantizeCommand
{
    public static Command Create(CliConsole io)
    {
        var model = new Option<string?>("--model", "-m") { Description = "Checkpoint folder or Hugging Face repo id in the local cache (default: the embedded demo model)" };
        var output = new Option<DirectoryInfo>("--output", "-o") { Description = "Folder to write (created if missing)", Required = true };
        var type = new Option<string>("--type") { Description = "Weight type: int8 or fp8 (e4m3)", Required = true };
        var groupSize = new Option<int>("--group-size") { Description = "Inputs per scale (0: one scale per output channel; a layer whose input size it does not divide keeps per-channel scales)", DefaultValueFactory = _ => 0 };
        var command = new Command("quantize", "Write a weight-only INT8 or FP8 copy of a checkpoint")
        {
            model, output, type, groupSize,
        };
        command.SetAction(async (result, ct) =>
        {
            JetWeightDtype dtype = ParseType(result.GetValue(type)!);
            int group = result.GetValue(groupSize);
            if (group < 0) throw new UsageException($"--group-size must be >= 0 (0: one scale per output channel), not {group}");
            string source = ModelLoader.Resolve(result.GetValue(model));
            string folder = result.GetValue(output)!.FullName;
            string scales = group > 0 ? $"groups of {group}" : "one scale per output channel";
            io.Error.WriteLine($"quantizing {ModelLoader.DisplayName(source)} to {result.GetValue(type)!.ToLowerInvariant()} ({scales}) into {folder}");
            await SpectreConsoles.WithProgressAsync(io, "quantizing", progress => Task.Run(() =>
            {
                JetModel.QuantizeCheckpoint(source, folder, dtype, group, progress, ct);
                return 0;
            }, ct));
            long bytes = Directory.EnumerateFiles(folder, "*.safetensors").Sum(f => new FileInfo(f).Length);
            io.Error.WriteLine($"done: {Units.Bytes(bytes)} of safetensors");
            io.Out.WriteLine(folder);
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>The --type value as a weight type; a usage error for anything else.</summary>
    internal static JetWeightDtype ParseType(string value) => value.Trim().ToLowerInvariant() switch
    {
        "int8" or "q8" => JetWeightDtype.Int8,
        "fp8" or "fp8_e4m3" or "e4m3" => JetWeightDtype.Fp8E4m3,
        _ => throw new UsageException($"--type must be int8 or fp8, not '{value}'"),
    };
}
