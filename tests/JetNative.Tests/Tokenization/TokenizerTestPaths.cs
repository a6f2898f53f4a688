using Xunit;
using JetNative.Tokenization;

namespace JetNative.Tests.Tokenization;

/// <summary>Where the tokenizer tests find their data: the committed tiny fixture and ../shared.</summary>
internal static class TokenizerTestPaths
{
    private static readonly Lazy<string> Root = new(FindRepoRoot);

    /// <summary>The checkout: the first folder above the test binaries that holds JetNative.sln.</summary>
    public static string RepoRoot => Root.Value;

    /// <summary>The hand-made byte-level BPE committed beside these tests.</summary>
    public static string TinyBpe => Path.Combine(RepoRoot, "tests", "JetNative.Tests", "Tokenization", "Data", "tiny-bpe");

    /// <summary>../shared beside the checkout (CI and developers only).</summary>
    public static string Shared => Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared"));

    public static string SharedTokenizer => Path.Combine(Shared, "fixtures", "tokenizer");

    /// <summary>Skips the calling test with a clear reason when ../shared's tokenizer is absent.</summary>
    public static string RequireSharedTokenizer()
    {
        if (!File.Exists(Path.Combine(SharedTokenizer, "tokenizer.json")))
            Assert.Skip($"needs the shared tokenizer fixtures at {SharedTokenizer} (../shared beside the checkout); absent on this machine");
        return SharedTokenizer;
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "JetNative.sln")))
                return dir.FullName;
        }
        throw new InvalidOperationException($"JetNative.sln not found above {AppContext.BaseDirectory}");
    }
}

/// <summary>A temporary folder with copies of a tokenizer's files, removed when disposed.</summary>
internal sealed class TempTokenizerFolder : IDisposable
{
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "jettok-" + Guid.NewGuid().ToString("N"));

    public TempTokenizerFolder(string? copyFrom = null)
    {
        Directory.CreateDirectory(Path);
        if (copyFrom is null)
            return;
        foreach (var file in Directory.GetFiles(copyFrom))
            System.IO.File.Copy(file, System.IO.Path.Combine(Path, System.IO.Path.GetFileName(file)));
    }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Write(string name, string content) => System.IO.File.WriteAllText(File(name), content);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}

/// <summary>The shared Qwen2.5 tokenizer, loaded once for all tests (about 1 s).</summary>
internal static class SharedQwenTokenizer
{
    private static readonly Lazy<JetTokenizer> Instance = new(() => JetTokenizer.FromFolder(TokenizerTestPaths.SharedTokenizer));

    public static JetTokenizer Get()
    {
        TokenizerTestPaths.RequireSharedTokenizer();
        return Instance.Value;
    }
}
