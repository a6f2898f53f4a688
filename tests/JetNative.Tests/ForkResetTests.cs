using JetNative.Tests.Support;
using Xunit;

namespace JetNative.Tests;

public sealed class ForkResetTests
{
    [Fact]
    public void AForkContinuesExactlyLikeItsParent()
    {
        JetModel model = TestModels.Get("tiny-jet-b");
        using JetSession parent = model.CreateSession(new JetSessionOptions { Context = 128 });
        parent.Prefill([5, 6, 7, 8, 9]);
        using JetSession fork = parent.Fork();
        Assert.Equal(5, fork.Position);
        Assert.Equal(parent.Options, fork.Options);
        float[] fromFork = fork.Decode(10).ToArray();
        Assert.Equal(5, parent.Position);  // the parent is untouched by the fork's decode
        float[] fromParent = parent.Decode(10).ToArray();
        Assert.Equal(fromParent, fromFork);
    }

    [Fact]
    public void AForkOutlivesItsParentAndItsModel()
    {
        JetModel model = TestModels.Random(seed: 11);
        JetSession parent = model.CreateSession(new JetSessionOptions { Context = 64 });
        parent.Prefill([1, 2, 3]);
        using JetSession fork = parent.Fork();
        float[] expected = parent.Decode(4).ToArray();
        parent.Dispose();
        model.Dispose();
        Assert.Equal(expected, fork.Decode(4).ToArray());
    }

    [Fact]
    public void ResetEmptiesASequenceAndGivesTheSameLogitsAgain()
    {
        JetModel model = TestModels.Get("tiny-jet-b");
        using JetSession session = model.CreateSession(new JetSessionOptions { Sequences = 2, Context = 64 });
        float[] first = session.Prefill([1, 2, 3], 1).ToArray();
        session.Prefill([4, 5], 0);
        session.Reset(1);
        Assert.Equal(0, session.GetPosition(1));
        Assert.Equal(2, session.GetPosition(0));
        Assert.Equal(first, session.Prefill([1, 2, 3], 1).ToArray());
        session.Reset();
        Assert.Equal(0, session.GetPosition(0));
        Assert.Equal(0, session.Position);
    }

    [Fact]
    public void CopySequenceDuplicatesTheCache()
    {
        JetModel model = TestModels.Get("tiny-jet-b");
        using JetSession session = model.CreateSession(new JetSessionOptions { Sequences = 2, Context = 64 });
        session.Prefill([9, 8, 7, 6], 0);
        session.CopySequence(0, 1);
        Assert.Equal(4, session.GetPosition(1));
        float[] a = session.Decode(5, 0).ToArray();
        float[] b = session.Decode(5, 1).ToArray();
        Assert.Equal(a, b);
    }
}
