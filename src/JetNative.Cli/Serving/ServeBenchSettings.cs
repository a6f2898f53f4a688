namespace JetNative.Cli.Serving;

/// <summary>One <c>bench serve</c> workload: where to send it, what each request asks, how fast requests come.</summary>
internal sealed record ServeBenchSettings
{
    /// <summary>The server's base address, e.g. <c>http://127.0.0.1:8080</c>.</summary>
    public required Uri BaseUrl { get; init; }
    /// <summary><c>/v1/completions</c> (token-id or text prompts) or <c>/v1/chat/completions</c> (text prompts).</summary>
    public string Endpoint { get; init; } = CompletionsEndpoint;
    /// <summary>The model name sent; null asks <c>GET /v1/models</c> and takes the first.</summary>
    public string? Model { get; init; }
    public int NumPrompts { get; init; } = 100;
    /// <summary>Random prompt length in token ids (ignored with <see cref="PromptText"/>).</summary>
    public int InputLen { get; init; } = 1024;
    /// <summary>A fixed text prompt sent by every request instead of random token ids.</summary>
    public string? PromptText { get; init; }
    public int OutputLen { get; init; } = 128;
    /// <summary>Sends <c>"ignore_eos": true</c> so that every answer has <see cref="OutputLen"/> tokens.</summary>
    public bool IgnoreEos { get; init; } = true;
    /// <summary>Requests per second, Poisson arrivals; infinity sends them all at once.</summary>
    public double RequestRate { get; init; } = double.PositiveInfinity;
    /// <summary>Most requests in flight at once; null = no limit.</summary>
    public int? MaxConcurrency { get; init; }
    public int Seed { get; init; }
    /// <summary>Random token ids are drawn from [0, VocabSize).</summary>
    public int VocabSize { get; init; } = 4096;
    public string? ApiKey { get; init; }
    public GoodputSlo Slo { get; init; } = new(null, null, null);
    /// <summary>Longest one request may take.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(10);

    public const string CompletionsEndpoint = "/v1/completions";
    public const string ChatEndpoint = "/v1/chat/completions";

    public bool IsChat => Endpoint == ChatEndpoint;

    /// <exception cref="UsageException">A value out of range or an inconsistent combination.</exception>
    public void Validate()
    {
        if (!BaseUrl.IsAbsoluteUri || (BaseUrl.Scheme != Uri.UriSchemeHttp && BaseUrl.Scheme != Uri.UriSchemeHttps))
            throw new UsageException($"--base-url must be an absolute http:// or https:// URL, not '{BaseUrl.OriginalString}'");
        if (Endpoint is not (CompletionsEndpoint or ChatEndpoint))
            throw new UsageException($"--endpoint must be {CompletionsEndpoint} or {ChatEndpoint}, not '{Endpoint}'");
        if (NumPrompts < 1) throw new UsageException($"--num-prompts must be >= 1, not {NumPrompts}");
        if (PromptText is null && InputLen < 1) throw new UsageException($"--input-len must be >= 1, not {InputLen}");
        if (PromptText is { Length: 0 }) throw new UsageException("--prompt is empty");
        if (IsChat && PromptText is null) throw new UsageException($"{ChatEndpoint} takes text: give --prompt TEXT (random token ids need {CompletionsEndpoint})");
        if (OutputLen < 1) throw new UsageException($"--output-len must be >= 1, not {OutputLen}");
        if (!(RequestRate > 0)) throw new UsageException($"--request-rate must be > 0 (or inf), not {RequestRate}");
        if (MaxConcurrency is < 1) throw new UsageException($"--max-concurrency must be >= 1, not {MaxConcurrency}");
        if (VocabSize < 1) throw new UsageException($"--vocab-size must be >= 1, not {VocabSize}");
        if (Timeout <= TimeSpan.Zero) throw new UsageException($"--timeout must be positive, not {Timeout.TotalSeconds} s");
    }
}
