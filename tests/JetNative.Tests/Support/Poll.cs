using Xunit;

namespace JetNative.Tests.Support;

/// <summary>Bounded waiting for a condition that another thread or process makes true.</summary>
internal static class Poll
{
    /// <summary>Polls <paramref name="condition"/> every 50 ms; fails the test with <paramref name="what"/> after <paramref name="seconds"/>.</summary>
    /// <param name="state">Describes the state at the time of failure (appended to the message).</param>
    public static async Task UntilAsync(Func<bool> condition, string what, double seconds = 20, Func<string>? state = null)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(seconds);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"timed out after {seconds} s waiting until {what}{(state is null ? "" : "; now: " + state())}");
            await Task.Delay(50);
        }
    }
}
