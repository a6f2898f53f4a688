namespace JetNative.Cli.Serving;

/// <summary>
/// The prompts and arrival times of a <c>bench serve</c> run, drawn from one seed so that two runs
/// with the same settings send the same requests at the same offsets.
/// </summary>
internal sealed record ServeWorkload(IReadOnlyList<int[]?> PromptIds, IReadOnlyList<double> ArrivalsS)
{
    public static ServeWorkload Create(ServeBenchSettings settings)
    {
        var random = new Random(settings.Seed);
        var prompts = new int[]?[settings.NumPrompts];
        for (int i = 0; i < prompts.Length; i++)
        {
            if (settings.PromptText is not null) continue; // the fixed text is sent instead
            var ids = new int[settings.InputLen];
            for (int t = 0; t < ids.Length; t++) ids[t] = random.Next(settings.VocabSize);
            prompts[i] = ids;
        }
        return new ServeWorkload(prompts, Arrivals(settings.NumPrompts, settings.RequestRate, random));
    }

    /// <summary>
    /// Send times in seconds from the start: a Poisson process of <paramref name="rate"/> requests a
    /// second (exponential gaps, the first request at 0), or all at 0 for an infinite rate.
    /// </summary>
    public static double[] Arrivals(int count, double rate, Random random)
    {
        var times = new double[count];
        if (double.IsPositiveInfinity(rate)) return times;
        double t = 0;
        for (int i = 1; i < count; i++)
        {
            t += -Math.Log(1.0 - random.NextDouble()) / rate;
            times[i] = t;
        }
        return times;
    }
}
