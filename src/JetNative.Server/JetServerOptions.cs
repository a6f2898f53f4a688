namespace JetNative.Server;

/// <summary>How a <see cref="JetServer"/> runs: model, devices, sizes, limits, address.</summary>
public sealed record JetServerOptions
{
    /// <summary>The checkpoint folder or repo id to load (ignored when <see cref="Model"/> is set).</summary>
    public string? ModelPath { get; init; }

    /// <summary>An already loaded model to serve on its own device (not disposed by the server).</summary>
    public JetModel? Model { get; init; }

    /// <summary>The model id clients name (default: the checkpoint folder's name).</summary>
    public string? ModelId { get; init; }

    /// <summary>The device of the engines.</summary>
    public JetDevice Device { get; init; } = JetDevice.Cpu;

    /// <summary>CUDA devices, one engine each (empty: <see cref="JetModelOptions.DeviceIndex"/> 0).</summary>
    public IReadOnlyList<int> CudaDevices { get; init; } = [];

    /// <summary>Engines on the CPU (each its own session and scheduler over one shared model).</summary>
    public int CpuEngines { get; init; } = 1;

    /// <summary>CPU threads of a model loaded by the server (0: all cores).</summary>
    public int Threads { get; init; }

    /// <summary>The address to listen on: an IP address or "localhost".</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>The TCP port (0: any free port, see <see cref="JetServer.BaseAddress"/>).</summary>
    public int Port { get; init; } = 8080;

    /// <summary>Generation slots per engine (sequences decoded together).</summary>
    public int MaxSequences { get; init; } = 8;

    /// <summary>Tokens per sequence (0: the model's maximum capped at 4096).</summary>
    public int Context { get; init; }

    /// <summary>Allows a <see cref="Context"/> beyond the model's max_position_embeddings (<c>--allow-long-context</c>; the engine logs a warning).</summary>
    public bool AllowLongContext { get; init; }

    /// <summary>Prompt tokens prefilled per scheduler step (one chunk between two decode steps).</summary>
    public int PrefillChunk { get; init; } = 256;

    /// <summary>Slots per engine kept for prefix snapshots (0: no prefix reuse).</summary>
    public int PrefixSlots { get; init; } = 2;

    /// <summary>The shortest shared prompt prefix worth a snapshot.</summary>
    public int MinPrefixTokens { get; init; } = 16;

    /// <summary>Requests that may wait per engine; beyond, 429.</summary>
    public int MaxQueue { get; init; } = 256;

    /// <summary>A request's time limit (null: none).</summary>
    public TimeSpan? Timeout { get; init; }

    /// <summary>The bearer token clients must send (null: none).</summary>
    public string? ApiKey { get; init; }

    /// <summary>The largest request body (413 beyond).</summary>
    public long MaxBodyBytes { get; init; } = 4 << 20;

    /// <summary>How long a shutdown waits for in-flight requests.</summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Throws ArgumentException (with the CLI flag's name) for a value out of range.</summary>
    public void Validate()
    {
        JetServerOptions o = this;
        if (o.Model is null && string.IsNullOrWhiteSpace(o.ModelPath)) throw new ArgumentException("no model: set ModelPath or Model");
        if (o.MaxSequences < 1) throw new ArgumentException($"--max-seqs must be >= 1, not {o.MaxSequences}");
        if (o.Context < 0) throw new ArgumentException($"--ctx must be >= 0, not {o.Context}");
        if (o.PrefillChunk < 1) throw new ArgumentException($"the prefill chunk must be >= 1, not {o.PrefillChunk}");
        if (o.PrefixSlots < 0) throw new ArgumentException($"--prefix-slots must be >= 0, not {o.PrefixSlots}");
        if (o.MinPrefixTokens < 1) throw new ArgumentException($"the shortest prefix must be >= 1 token, not {o.MinPrefixTokens}");
        if (o.MaxQueue < 0) throw new ArgumentException($"--max-queue must be >= 0, not {o.MaxQueue}");
        if (o.CpuEngines < 1) throw new ArgumentException($"--engines must be >= 1, not {o.CpuEngines}");
        if (o.Port is < 0 or > 65535) throw new ArgumentException($"--port must be in [0, 65535], not {o.Port}");
        if (o.MaxBodyBytes < 1024) throw new ArgumentException($"the body limit must be >= 1024 bytes, not {o.MaxBodyBytes}");
        if (o.Host != "localhost" && !System.Net.IPAddress.TryParse(o.Host, out _))
            throw new ArgumentException($"--host must be an IP address or localhost, not '{o.Host}'");
        if (o.Device == JetDevice.Cuda && o.CudaDevices.Any(d => d < 0))
            throw new ArgumentException("CUDA device indices must be >= 0");
    }
}
