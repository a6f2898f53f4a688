namespace JetNative.Tokenization;

/// <summary>
/// GPT-2's byte-to-unicode table used by byte-level BPE: every byte maps to one printable char
/// (printable Latin-1 bytes to themselves, the other 68 bytes to U+0100 upwards, in byte order).
/// </summary>
internal static class ByteLevelMap
{
    private static readonly char[] ByteToChar = BuildByteToChar();
    // Indexed by char: the byte it stands for, or -1. The table's chars are all below U+0144.
    private static readonly short[] CharToByte = BuildCharToByte(ByteToChar);

    private static bool MapsToItself(int b) =>
        (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);

    private static char[] BuildByteToChar()
    {
        var table = new char[256];
        int next = 256;
        for (int b = 0; b < 256; b++)
            table[b] = MapsToItself(b) ? (char)b : (char)next++;
        return table;
    }

    private static short[] BuildCharToByte(char[] byteToChar)
    {
        var map = new short[byteToChar.Max() + 1];
        Array.Fill(map, (short)-1);
        for (int b = 0; b < 256; b++)
            map[byteToChar[b]] = (short)b;
        return map;
    }

    /// <summary>The char that stands for <paramref name="b"/> in a byte-level vocabulary.</summary>
    public static char ToChar(byte b) => ByteToChar[b];

    /// <summary>
    /// The bytes a byte-level token stands for. A char outside the table (which a well-formed
    /// byte-level vocabulary never has) stands for its own UTF-8 bytes, as in Hugging Face's decoder.
    /// </summary>
    public static byte[] ToBytes(string token)
    {
        if (IsAllMapped(token))
        {
            var direct = new byte[token.Length];
            for (int i = 0; i < token.Length; i++)
                direct[i] = (byte)CharToByte[token[i]];
            return direct;
        }
        var bytes = new List<byte>(token.Length * 3);
        Span<byte> utf8 = stackalloc byte[4];
        for (int i = 0; i < token.Length; i++)
        {
            char c = token[i];
            if (c < CharToByte.Length && CharToByte[c] >= 0)
            {
                bytes.Add((byte)CharToByte[c]);
                continue;
            }
            int length = char.IsSurrogatePair(token, i) ? 2 : 1;
            int written = System.Text.Encoding.UTF8.GetBytes(token.AsSpan(i, length), utf8);
            for (int k = 0; k < written; k++)
                bytes.Add(utf8[k]);
            i += length - 1;
        }
        return bytes.ToArray();
    }

    private static bool IsAllMapped(string token)
    {
        foreach (char c in token)
        {
            if (c >= CharToByte.Length || CharToByte[c] < 0)
                return false;
        }
        return true;
    }
}
