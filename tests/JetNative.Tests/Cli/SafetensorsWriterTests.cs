using System.Buffers.Binary;
using System.Text.Json;
using JetNative.Cli;
using JetNative.Tests.Support;
using Xunit;

namespace JetNative.Tests.Cli;

public sealed class SafetensorsWriterTests
{
    [Fact]
    public void WritesHeaderAndDataThatReadBack()
    {
        using var temp = new TempFolder();
        string path = temp.FilePath("t.safetensors");
        float[] a = [1f, -2.5f, 3f, 4f, 5f, 6f];
        float[] b = [float.MaxValue, 0.125f];
        using (var stream = File.Create(path))
        {
            var writer = new SafetensorsWriter(stream, [("logits.0", [2, 3]), ("logits.1", [1, 2])]);
            writer.WriteNext(a);
            writer.WriteNext(b);
            writer.Finish();
        }
        byte[] bytes = File.ReadAllBytes(path);
        long headerLength = BinaryPrimitives.ReadInt64LittleEndian(bytes);
        Assert.Equal(0, (8 + headerLength) % 8);
        Assert.Equal(8 + headerLength + (a.Length + b.Length) * 4, bytes.Length);
        using var header = JsonDocument.Parse(bytes.AsMemory(8, (int)headerLength));
        var t0 = header.RootElement.GetProperty("logits.0");
        Assert.Equal("F32", t0.GetProperty("dtype").GetString());
        Assert.Equal([2L, 3L], t0.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()));
        Assert.Equal([0L, 24L], t0.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()));
        Assert.Equal([24L, 32L], header.RootElement.GetProperty("logits.1").GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()));

        var golden = new GoldenFile(path); // the test suite's own reader
        Assert.Equal(a, golden.Floats("logits.0"));
        Assert.Equal(b, golden.Floats("logits.1"));
        Assert.Equal([1L, 2L], golden.Shape("logits.1"));
    }

    [Fact]
    public void RejectsWrongElementCount()
    {
        var writer = new SafetensorsWriter(new MemoryStream(), [("x", [2, 2])]);
        Assert.Throws<ArgumentException>(() => writer.WriteNext(new float[3]));
    }

    [Fact]
    public void FinishFailsWhenATensorIsMissing()
    {
        var writer = new SafetensorsWriter(new MemoryStream(), [("x", [1]), ("y", [1])]);
        writer.WriteNext([1f]);
        Assert.Throws<InvalidOperationException>(writer.Finish);
    }

    [Fact]
    public void RejectsDuplicateNames() =>
        Assert.Throws<ArgumentException>(() => new SafetensorsWriter(new MemoryStream(), [("x", [1]), ("x", [1])]));
}
