namespace JetNative;

/// <summary>How a model is loaded: on which device, with how many CPU threads.</summary>
public sealed record JetModelOptions
{
    /// <summary>CPU (default) or CUDA.</summary>
    public JetDevice Device { get; init; } = JetDevice.Cpu;

    /// <summary>CUDA device ordinal (default 0).</summary>
    public int DeviceIndex { get; init; }

    /// <summary>CPU threads; 0 (the default) = the physical cores this process may use, which is the fastest setting; more threads than free cores only slow decoding down, and requests above 4 per CPU are clamped with a warning.</summary>
    public int Threads { get; init; }

    /// <summary>
    /// Parses a device as the CLI writes it: "cpu", "cuda" or "cuda:N". Throws ArgumentException
    /// with the accepted forms for anything else.
    /// </summary>
    public static (JetDevice Device, int Index) ParseDevice(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string t = text.Trim().ToLowerInvariant();
        if (t == "cpu")
            return (JetDevice.Cpu, 0);
        if (t == "cuda")
            return (JetDevice.Cuda, 0);
        if (t.StartsWith("cuda:", StringComparison.Ordinal) &&
            int.TryParse(t.AsSpan(5), System.Globalization.NumberStyles.None,
                System.Globalization.CultureInfo.InvariantCulture, out int index))
            return (JetDevice.Cuda, index);
        throw new ArgumentException($"unknown device '{text}': use cpu, cuda or cuda:N", nameof(text));
    }
}
