using JetNative.Interop;

namespace JetNative.Tokenization;

/// <summary>
/// Creates the <see cref="JetException"/>s the tokenizer throws, so that every message names the
/// file (or argument) and the problem in the same way: "path: problem".
/// </summary>
internal static class TokenizerErrors
{
    /// <summary>A tokenizer file or folder is missing (JET_ERR_IO).</summary>
    public static JetException MissingFile(string path, string what) =>
        new(JetStatus.Io, $"{path}: {what} not found");

    /// <summary>A tokenizer file exists but is malformed (JET_ERR_FORMAT).</summary>
    public static JetException BadFile(string path, string problem, Exception? inner = null) =>
        new(JetStatus.Format, $"{path}: {problem}", inner);

    /// <summary>A tokenizer file is valid but asks for something this tokenizer cannot do (JET_ERR_UNSUPPORTED).</summary>
    public static JetException UnsupportedFile(string path, string problem) =>
        new(JetStatus.Unsupported, $"{path}: {problem}");

    /// <summary>An argument of a tokenizer call is invalid, such as a token id out of range (JET_ERR_INVALID_ARGUMENT).</summary>
    public static JetException BadArgument(string paramName, string problem) =>
        new(JetStatus.InvalidArgument, $"{paramName}: {problem}");
}

/// <summary>File reads that report an unreadable file as a JetException naming it.</summary>
internal static class TokenizerFiles
{
    public static byte[] ReadAllBytes(string path)
    {
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new JetException(JetStatus.Io, $"{path}: cannot be read ({e.Message})", e);
        }
    }
}
