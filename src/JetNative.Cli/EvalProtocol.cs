using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace JetNative.Cli;

/// <summary>
/// The evaluation protocol a checkpoint ships in <c>eval.json</c> beside its config (the demo model
/// does): the window size in tokens, and optionally the validation split of its text file, as the
/// byte range [byte_start, byte_end) of the file whose SHA-256 is text_sha256. A folder without the
/// file gives an empty protocol (the CLI's defaults apply).
/// </summary>
internal sealed record EvalProtocol(int? Window, string? TextSha256 = null, long ByteStart = 0, long? ByteEnd = null)
{
    public static readonly EvalProtocol None = new((int?)null);

    public static EvalProtocol For(string? modelFolder)
    {
        if (modelFolder is null) return None;
        string path = Path.Combine(modelFolder, "eval.json");
        if (!File.Exists(path)) return None;
        try
        {
            using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(path));
            JsonElement root = doc.RootElement;
            int? window = root.TryGetProperty("window", out JsonElement w) ? w.GetInt32() : null;
            if (window is < 2) throw new InvalidDataException($"{path}: the window must be at least 2, not {window}");
            string? sha = root.TryGetProperty("text_sha256", out JsonElement s) ? s.GetString() : null;
            long start = root.TryGetProperty("byte_start", out JsonElement b0) ? b0.GetInt64() : 0;
            long? end = root.TryGetProperty("byte_end", out JsonElement b1) ? b1.GetInt64() : null;
            if (start < 0 || end < start) throw new InvalidDataException($"{path}: bad byte range [{start}, {end})");
            return new EvalProtocol(window, sha, start, end);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
    }

    /// <summary>
    /// The text to evaluate: the protocol's validation bytes when <paramref name="bytes"/> is the
    /// protocol's own text file (same SHA-256), else the whole file. <paramref name="note"/> says which.
    /// </summary>
    public string SelectText(byte[] bytes, out string note)
    {
        if (TextSha256 is not null && Convert.ToHexStringLower(SHA256.HashData(bytes)) == TextSha256.ToLowerInvariant())
        {
            long end = Math.Min(ByteEnd ?? bytes.Length, bytes.Length);
            note = $"validation bytes [{ByteStart}, {end}) of the model's eval text, per eval.json";
            return Encoding.UTF8.GetString(bytes, (int)ByteStart, (int)(end - ByteStart));
        }
        note = "whole file";
        return Encoding.UTF8.GetString(bytes);
    }
}
