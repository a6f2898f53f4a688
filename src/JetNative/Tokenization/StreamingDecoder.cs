using System.Text;

namespace JetNative.Tokenization;

/// <summary>
/// Turns token ids, fed one at a time as a model generates them, into text. A token can end in
/// the middle of a multi-byte UTF-8 character; those bytes are held back until the character is
/// complete, so no call returns half a character (or a U+FFFD in its place). The concatenation of
/// every <see cref="Append"/> result and <see cref="Flush"/> equals <see cref="JetTokenizer.Decode"/>
/// of all the ids. Not thread-safe: use one decoder per generation.
/// </summary>
public sealed class StreamingDecoder
{
    private readonly JetTokenizer _tokenizer;
    private readonly bool _skipSpecial;
    private readonly Decoder _utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false).GetDecoder();
    private char[] _chars = new char[64];

    internal StreamingDecoder(JetTokenizer tokenizer, bool skipSpecial)
    {
        _tokenizer = tokenizer;
        _skipSpecial = skipSpecial;
    }

    /// <summary>
    /// Adds one token and returns the text it completes: empty while a character is still partial,
    /// possibly more than this token's own text when it completes bytes held back earlier.
    /// </summary>
    public string Append(int id)
    {
        byte[] bytes = _tokenizer.TokenBytes(id, nameof(id));
        if (_skipSpecial && _tokenizer.IsSpecial(id))
            return string.Empty;
        return Convert(bytes, flush: false);
    }

    /// <summary>
    /// Ends the stream: returns the bytes still held back, as U+FFFD replacement characters (they
    /// never completed a character), and resets the decoder for reuse.
    /// </summary>
    public string Flush() => Convert(Array.Empty<byte>(), flush: true);

    /// <summary>True while bytes of an incomplete character are held back.</summary>
    public bool HasPendingBytes
    {
        get
        {
            // GetCharCount with flush = true counts the replacement chars pending bytes would become.
            return _utf8.GetCharCount(Array.Empty<byte>(), 0, 0, flush: true) > 0;
        }
    }

    private string Convert(byte[] bytes, bool flush)
    {
        int needed = _utf8.GetCharCount(bytes, 0, bytes.Length, flush);
        if (needed > _chars.Length)
            _chars = new char[Math.Max(needed, _chars.Length * 2)];
        int written = _utf8.GetChars(bytes, 0, bytes.Length, _chars, 0, flush);
        return written == 0 ? string.Empty : new string(_chars, 0, written);
    }
}
