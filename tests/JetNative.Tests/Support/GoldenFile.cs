using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace JetNative.Tests.Support;

/// <summary>Reads the F32 and I64 tensors of a golden.safetensors file (test data only).</summary>
internal sealed class GoldenFile
{
    private readonly byte[] _bytes;
    private readonly long _dataStart;
    private readonly Dictionary<string, (string Dtype, long[] Shape, long Begin, long End)> _tensors = new();

    public GoldenFile(string path)
    {
        _bytes = File.ReadAllBytes(path);
        long headerLength = BinaryPrimitives.ReadInt64LittleEndian(_bytes);
        _dataStart = 8 + headerLength;
        using var json = JsonDocument.Parse(_bytes.AsMemory(8, (int)headerLength));
        foreach (JsonProperty p in json.RootElement.EnumerateObject())
        {
            if (p.Name == "__metadata__")
                continue;
            long[] shape = p.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            long[] offsets = p.Value.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            _tensors[p.Name] = (p.Value.GetProperty("dtype").GetString()!, shape, offsets[0], offsets[1]);
        }
    }

    public long[] Shape(string name) => _tensors[name].Shape;

    public float[] Floats(string name)
    {
        var t = _tensors[name];
        if (t.Dtype != "F32")
            throw new InvalidDataException($"{name} is {t.Dtype}, not F32");
        return MemoryMarshal.Cast<byte, float>(_bytes.AsSpan((int)(_dataStart + t.Begin), (int)(t.End - t.Begin))).ToArray();
    }

    public int[] Ids(string name)
    {
        var t = _tensors[name];
        if (t.Dtype != "I64")
            throw new InvalidDataException($"{name} is {t.Dtype}, not I64");
        return MemoryMarshal.Cast<byte, long>(_bytes.AsSpan((int)(_dataStart + t.Begin), (int)(t.End - t.Begin)))
            .ToArray().Select(v => checked((int)v)).ToArray();
    }
}
