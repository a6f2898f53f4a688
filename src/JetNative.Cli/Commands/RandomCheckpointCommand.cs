using System.CommandLine;

namespace JetNative.Cli.Commands;

/// <summary>
/// <c>jetnative random-checkpoint -o DIR [--config 2b|4b|demo|FILE|DIR] [-s SEED] [--shard-size SIZE]</c>:
/// writes a Hugging Face checkpoint with random bf16 weights and the real shapes of a config
/// (config.json + safetensors shards + index), to test or benchmark the loader and the engine at
/// full size without a download (the weights are never worth committing). When the config's
/// vocabulary is the demo model's, the demo tokenizer is copied beside the weights (so
/// <c>generate</c> works); otherwise it says how to add one.
/// </summary>
internal static class RandomCheckpointCommand
{
    public static Command Create(CliConsole io)
    {
        var output = new Option<DirectoryInfo>("--output", "-o") { Description = "Folder to write (created if missing)", Required = true };
        var config = new Option<string>("--config") { Description = "Config: 2b, 4b, demo, a config.json or a checkpoint folder", DefaultValueFactory = _ => "2b" };
        var seed = new Option<long>("--seed", "-s") { Description = "RNG seed of the weights", DefaultValueFactory = _ => 0 };
        var shardSize = new Option<string>("--shard-size") { Description = "Tensor bytes per safetensors file at most, e.g. 2GB or 500MiB", DefaultValueFactory = _ => "2GiB" };
        var command = new Command("random-checkpoint", "Write a checkpoint with random weights and a config's real shapes (loader tests, benchmarks)")
        {
            output, config, seed, shardSize,
        };
        command.SetAction((result, ct) =>
        {
            long s = result.GetValue(seed);
            if (s < 0) throw new UsageException($"--seed must be >= 0, not {s}");
            long shard = Units.ParseBytes(result.GetValue(shardSize)!, "--shard-size");
            if (shard <= 0) throw new UsageException("--shard-size must be positive");
            var (json, label) = ConfigSource.Read(result.GetValue(config)!, "--config");
            string folder = result.GetValue(output)!.FullName;
            io.Error.WriteLine($"writing random weights for {label} to {folder}");
            JetModel.WriteRandomCheckpoint(json, folder, (ulong)s, shard);
            long bytes = Directory.EnumerateFiles(folder, "*.safetensors").Sum(f => new FileInfo(f).Length);
            io.Error.WriteLine($"done: {Units.Bytes(bytes)} of safetensors");
            io.Error.WriteLine(AddTokenizer(json, folder));
            io.Out.WriteLine(folder);
            return Task.FromResult(ExitCodes.Ok);
        });
        return command;
    }

    /// <summary>The tokenizer files a checkpoint folder may carry.</summary>
    internal static readonly string[] TokenizerFiles = ["tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt", "generation_config.json"];

    /// <summary>
    /// Copies the demo model's tokenizer into <paramref name="folder"/> when the config's vocab_size
    /// is the demo's; returns the line that says what was done, or how to add a tokenizer.
    /// </summary>
    internal static string AddTokenizer(string configJson, string folder)
    {
        int vocab = VocabSize(configJson);
        string demo = ModelLoader.DemoModelFolder;
        string demoConfig = Path.Combine(demo, "config.json");
        int? demoVocab = File.Exists(demoConfig) ? VocabSize(File.ReadAllText(demoConfig)) : null;
        if (demoVocab == vocab && File.Exists(Path.Combine(demo, "tokenizer.json")))
        {
            foreach (string name in TokenizerFiles.Where(n => File.Exists(Path.Combine(demo, n))))
                File.Copy(Path.Combine(demo, name), Path.Combine(folder, name), overwrite: true);
            return $"tokenizer: copied the demo model's ({vocab} tokens), so 'generate -m {folder}' works";
        }
        return $"tokenizer: none written (the config's vocabulary of {vocab} is not the demo tokenizer's" +
            (demoVocab is int d ? $" {d}" : "") + "); to generate text, copy the matching tokenizer.json and tokenizer_config.json " +
            $"(e.g. from the Hugging Face checkpoint jet-ai/Jet-Nemotron-2B) into {folder}; 'eval --input-ids' works without one";
    }

    private static int VocabSize(string configJson)
    {
        using var doc = System.Text.Json.JsonDocument.Parse(configJson);
        return doc.RootElement.TryGetProperty("vocab_size", out var v) && v.TryGetInt32(out int n) ? n : -1;
    }
}
