using JetNative.Cli.Serving;
using Xunit;

namespace JetNative.Tests.Cli.Serving;

public sealed class ServeWorkloadTests
{
    [Fact]
    public void An_infinite_rate_sends_everything_at_once()
    {
        Assert.All(ServeWorkload.Arrivals(50, double.PositiveInfinity, new Random(1)), t => Assert.Equal(0, t));
    }

    [Fact]
    public void Poisson_arrivals_have_the_requested_mean_rate_and_increase()
    {
        double[] times = ServeWorkload.Arrivals(4001, rate: 20, new Random(7));
        Assert.Equal(0, times[0]);
        for (int i = 1; i < times.Length; i++) Assert.True(times[i] >= times[i - 1]);
        double meanGap = times[^1] / (times.Length - 1);
        Assert.InRange(meanGap, 0.05 * 0.9, 0.05 * 1.1); // 4000 exponential gaps: the mean is within a few %
        // Exponential gaps: about 63% are shorter than the mean.
        double shorter = times.Zip(times.Skip(1), (a, b) => b - a).Count(g => g < 0.05) / 4000.0;
        Assert.InRange(shorter, 0.60, 0.66);
    }

    [Fact]
    public void The_same_seed_gives_the_same_prompts_and_ids_stay_in_the_vocabulary()
    {
        var settings = new ServeBenchSettings { BaseUrl = new Uri("http://127.0.0.1:1"), NumPrompts = 5, InputLen = 64, VocabSize = 100, RequestRate = 4, Seed = 3 };
        ServeWorkload a = ServeWorkload.Create(settings), b = ServeWorkload.Create(settings);
        Assert.Equal(a.PromptIds.Select(p => p!), b.PromptIds.Select(p => p!));
        Assert.Equal(a.ArrivalsS, b.ArrivalsS);
        Assert.All(a.PromptIds, p => Assert.Equal(64, p!.Length));
        Assert.All(a.PromptIds.SelectMany(p => p!), id => Assert.InRange(id, 0, 99));
        Assert.NotEqual(a.PromptIds[0], ServeWorkload.Create(settings with { Seed = 4 }).PromptIds[0]);
        Assert.All(ServeWorkload.Create(settings with { PromptText = "hello" }).PromptIds, Assert.Null);
    }
}
