using System.CommandLine;

namespace JetNative.Cli;

/// <summary>
/// Options every command that loads a model shares (llama.cpp spelling where the meaning matches):
/// <c>-m/--model</c>, <c>-t/--threads</c>, <c>-c/--ctx-size</c>, <c>--device</c>.
/// </summary>
internal sealed class ModelOptions
{
    public Option<string?> Model { get; } = new("--model", "-m")
    {
        Description = "Model: a Hugging Face checkpoint folder or repo id (default: the embedded demo model)",
    };

    public Option<int> Threads { get; } = new("--threads", "-t")
    {
        Description = "CPU threads (0 = the physical cores; more than the free cores slows decoding down)",
        DefaultValueFactory = _ => 0,
    };

    public Option<int> CtxSize { get; } = new("--ctx-size", "-c")
    {
        Description = "Context size in tokens (0 = the model's maximum, at most 4096)",
        DefaultValueFactory = _ => 0,
    };

    public Option<bool> AllowLongContext { get; } = new("--allow-long-context")
    {
        Description = "Allow a context beyond the model's max_position_embeddings (a warning is logged; quality past the trained length may degrade)",
    };

    public Option<string> Device { get; } = new("--device")
    {
        Description = "Device: cpu, cuda or cuda:N",
        DefaultValueFactory = _ => "cpu",
    };

    /// <summary>
    /// Adds the options; <paramref name="context"/> false leaves out -c (a command that sizes its own context),
    /// <paramref name="longContext"/> false leaves out --allow-long-context (a command that creates no session).
    /// </summary>
    public void AddTo(Command command, bool context = true, bool longContext = true)
    {
        command.Add(Model);
        command.Add(Threads);
        if (context) command.Add(CtxSize);
        if (context && longContext) command.Add(AllowLongContext);
        command.Add(Device);
    }

    public ModelArgs Read(ParseResult result)
    {
        int threads = result.GetValue(Threads);
        if (threads < 0) throw new UsageException($"--threads must be >= 0, not {threads}");
        int ctx = result.GetValue(CtxSize);
        if (ctx < 0) throw new UsageException($"--ctx-size must be >= 0, not {ctx}");
        string deviceText = result.GetValue(Device) ?? "cpu";
        (JetDevice device, int index) parsed;
        try { parsed = JetModelOptions.ParseDevice(deviceText); }
        catch (ArgumentException) { throw new UsageException($"--device must be cpu, cuda or cuda:N, not '{deviceText}'"); }
        var options = new JetModelOptions { Device = parsed.device, DeviceIndex = parsed.index, Threads = threads };
        return new ModelArgs(result.GetValue(Model), ctx, options, result.GetValue(AllowLongContext));
    }
}

/// <summary>The values of <see cref="ModelOptions"/>.</summary>
internal sealed record ModelArgs(string? Model, int CtxSize, JetModelOptions Options, bool AllowLongContext = false);

/// <summary>Sampling options: <c>-s/--seed --temp --top-k --top-p --min-p --repeat-penalty</c>.</summary>
internal sealed class SamplingOptions
{
    public Option<long> Seed { get; } = new("--seed", "-s")
    {
        Description = "RNG seed (-1 = random)",
        DefaultValueFactory = _ => -1,
    };

    public Option<float> Temp { get; } = new("--temp")
    {
        Description = "Temperature (0 = greedy)",
        DefaultValueFactory = _ => 0.8f,
    };

    public Option<int> TopK { get; } = new("--top-k")
    {
        Description = "Top-k sampling (0 = off)",
        DefaultValueFactory = _ => 40,
    };

    public Option<float> TopP { get; } = new("--top-p")
    {
        Description = "Top-p sampling (1.0 = off)",
        DefaultValueFactory = _ => 0.95f,
    };

    public Option<float> MinP { get; } = new("--min-p")
    {
        Description = "Min-p sampling (0 = off)",
        DefaultValueFactory = _ => 0.05f,
    };

    public Option<float> RepeatPenalty { get; } = new("--repeat-penalty")
    {
        Description = "Penalty for repeating the last 64 tokens (1.0 = off)",
        DefaultValueFactory = _ => 1.0f,
    };

    public void AddTo(Command command)
    {
        command.Add(Seed);
        command.Add(Temp);
        command.Add(TopK);
        command.Add(TopP);
        command.Add(MinP);
        command.Add(RepeatPenalty);
    }

    public JetSamplingOptions Read(ParseResult result)
    {
        float temp = result.GetValue(Temp);
        int topK = result.GetValue(TopK);
        float topP = result.GetValue(TopP);
        float minP = result.GetValue(MinP);
        float penalty = result.GetValue(RepeatPenalty);
        long seed = result.GetValue(Seed);
        if (!float.IsFinite(temp) || temp < 0) throw new UsageException($"--temp must be >= 0, not {temp}");
        if (topK < 0) throw new UsageException($"--top-k must be >= 0, not {topK}");
        if (!(topP > 0 && topP <= 1)) throw new UsageException($"--top-p must be in (0, 1], not {topP}");
        if (!(minP >= 0 && minP < 1)) throw new UsageException($"--min-p must be in [0, 1), not {minP}");
        if (!(penalty > 0) || !float.IsFinite(penalty)) throw new UsageException($"--repeat-penalty must be > 0, not {penalty}");
        if (seed < -1) throw new UsageException($"--seed must be >= 0 (or -1 for random), not {seed}");
        return new JetSamplingOptions
        {
            Temperature = temp, TopK = topK, TopP = topP, MinP = minP, RepeatPenalty = penalty, Seed = seed == -1 ? null : (ulong)seed, // null: the library draws a random seed
        };
    }
}
