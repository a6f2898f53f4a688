using JetNative.Server.Engine;

namespace JetNative.Server.Scheduling;

/// <summary>
/// Prefix reuse for a recurrent-state model: a few reserved sequence slots hold snapshots of
/// prompt prefixes (the whole state after them: recurrent state, attention cache, logits). A new
/// prompt starts from the longest snapshot that is a prefix of it (one copy instead of a prefill);
/// when a prompt shares at least <see cref="MinTokens"/> leading tokens with a recent prompt and no
/// snapshot covers them, the scheduler stops its prefill at that boundary once to take a snapshot
/// (least recently used one evicted). Used by the scheduler's thread only.
/// </summary>
public sealed class PrefixCache
{
    private const int History = 32;
    private readonly IBatchEngine _engine;
    private readonly Entry[] _entries;
    private readonly LinkedList<int[]> _recent = new();
    private long _clock;

    private sealed class Entry(int slot)
    {
        public int Slot { get; } = slot;
        public int[]? Tokens;
        public long LastUsed;
    }

    /// <summary>Snapshots in <paramref name="slots"/> of <paramref name="engine"/>; prefixes shorter than <paramref name="minTokens"/> are not kept.</summary>
    public PrefixCache(IBatchEngine engine, IEnumerable<int> slots, int minTokens)
    {
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentOutOfRangeException.ThrowIfLessThan(minTokens, 1);
        _engine = engine;
        _entries = slots.Select(s => new Entry(s)).ToArray();
        MinTokens = minTokens;
    }

    /// <summary>The shortest prefix worth a snapshot.</summary>
    public int MinTokens { get; }

    /// <summary>Snapshot slots.</summary>
    public int Capacity => _entries.Length;

    /// <summary>Snapshots held now.</summary>
    public int Count => _entries.Count(e => e.Tokens is not null);

    /// <summary>
    /// Starts <paramref name="slot"/> from the longest snapshot that is a prefix of
    /// <paramref name="prompt"/> (copied onto the slot); returns its length (0: none, the slot is untouched).
    /// </summary>
    public int StartFrom(int[] prompt, int slot)
    {
        Entry? best = null;
        foreach (Entry e in _entries)
        {
            if (e.Tokens is { } t && t.Length <= prompt.Length && t.Length > (best?.Tokens!.Length ?? 0)
                && prompt.AsSpan(0, t.Length).SequenceEqual(t))
                best = e;
        }
        if (best is null) return 0;
        best.LastUsed = ++_clock;
        _engine.CopySequence(best.Slot, slot);
        return best.Tokens!.Length;
    }

    /// <summary>
    /// Where to snapshot <paramref name="prompt"/> (0: nowhere): the longest prefix it shares with a
    /// recent prompt, when at least MinTokens long and longer than <paramref name="reused"/>.
    /// Remembers the prompt.
    /// </summary>
    public int PlanSnapshot(int[] prompt, int reused)
    {
        if (_entries.Length == 0) return 0;
        int best = 0;
        foreach (int[] earlier in _recent)
            best = Math.Max(best, prompt.AsSpan().CommonPrefixLength(earlier));
        _recent.AddFirst(prompt);
        if (_recent.Count > History) _recent.RemoveLast();
        return best >= MinTokens && best > reused ? best : 0;
    }

    /// <summary>Keeps the state of <paramref name="slot"/>, which holds exactly <paramref name="prefix"/>, as a snapshot.</summary>
    public void Store(ReadOnlySpan<int> prefix, int slot)
    {
        if (_entries.Length == 0) return;
        foreach (Entry e in _entries)
        {
            if (e.Tokens is { } t && prefix.SequenceEqual(t))
            {
                e.LastUsed = ++_clock;
                return;
            }
        }
        Entry victim = _entries.FirstOrDefault(e => e.Tokens is null) ?? _entries.MinBy(e => e.LastUsed)!;
        victim.Tokens = null;
        _engine.CopySequence(slot, victim.Slot);
        victim.Tokens = prefix.ToArray();
        victim.LastUsed = ++_clock;
    }
}
