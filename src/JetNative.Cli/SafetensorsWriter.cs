using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace JetNative.Cli;

/// <summary>
/// Writes float32 tensors in the safetensors format: an 8-byte little-endian header length, a JSON
/// header (name -> dtype, shape, data_offsets; padded with spaces to a multiple of 8 bytes), then
/// the tensors' bytes back to back. The shapes are declared up front so the data can be streamed
/// one tensor at a time in declaration order.
/// </summary>
internal sealed class SafetensorsWriter
{
    private readonly Stream _stream;
    private readonly IReadOnlyList<(string Name, long[] Shape)> _tensors;
    private int _next;

    public SafetensorsWriter(Stream stream, IReadOnlyList<(string Name, long[] Shape)> tensors)
    {
        _stream = stream;
        _tensors = tensors;
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, shape) in tensors)
        {
            if (string.IsNullOrEmpty(name) || !names.Add(name))
                throw new ArgumentException($"tensor names must be unique and non-empty ('{name}')", nameof(tensors));
            if (shape.Any(d => d < 0))
                throw new ArgumentException($"tensor '{name}' has a negative dimension", nameof(tensors));
        }
        WriteHeader();
    }

    /// <summary>Number of float32 elements of a shape.</summary>
    public static long ElementCount(long[] shape) => shape.Aggregate(1L, (a, d) => checked(a * d));

    private void WriteHeader()
    {
        using var json = new MemoryStream();
        using (var w = new Utf8JsonWriter(json))
        {
            w.WriteStartObject();
            long offset = 0;
            foreach (var (name, shape) in _tensors)
            {
                long bytes = checked(ElementCount(shape) * sizeof(float));
                w.WriteStartObject(name);
                w.WriteString("dtype", "F32");
                w.WriteStartArray("shape");
                foreach (long d in shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                w.WriteNumberValue(offset + bytes);
                w.WriteEndArray();
                w.WriteEndObject();
                offset += bytes;
            }
            w.WriteEndObject();
        }
        int pad = (int)((8 - json.Length % 8) % 8);
        Span<byte> len = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)(json.Length + pad));
        _stream.Write(len);
        _stream.Write(json.GetBuffer(), 0, (int)json.Length);
        _stream.Write(Encoding.ASCII.GetBytes(new string(' ', pad)));
    }

    /// <summary>Writes the data of the next declared tensor (its full element count, in order).</summary>
    public void WriteNext(ReadOnlySpan<float> data)
    {
        if (_next >= _tensors.Count) throw new InvalidOperationException("all declared tensors were already written");
        var (name, shape) = _tensors[_next];
        if (data.Length != ElementCount(shape))
            throw new ArgumentException($"tensor '{name}' needs {ElementCount(shape)} floats, got {data.Length}", nameof(data));
        if (BitConverter.IsLittleEndian)
        {
            _stream.Write(MemoryMarshal.AsBytes(data));
        }
        else
        {
            var buf = new byte[data.Length * sizeof(float)];
            for (int i = 0; i < data.Length; i++)
                BinaryPrimitives.WriteSingleLittleEndian(buf.AsSpan(i * sizeof(float)), data[i]);
            _stream.Write(buf);
        }
        _next++;
    }

    /// <summary>Checks that every declared tensor was written and flushes the stream.</summary>
    public void Finish()
    {
        if (_next != _tensors.Count)
            throw new InvalidOperationException($"only {_next} of {_tensors.Count} declared tensors were written");
        _stream.Flush();
    }
}
