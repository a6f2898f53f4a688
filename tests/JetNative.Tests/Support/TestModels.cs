using Xunit;

namespace JetNative.Tests.Support;

/// <summary>
/// Where the end-to-end tests find models: the committed tiny-jet-b (tests/fixtures), the shared
/// tiny-jet-a (../shared/fixtures, CI and developers only) and the committed demo model with a
/// tokenizer (models/jetnative-demo). Loaded models are cached for the whole run (they are thread-safe).
/// </summary>
internal static class TestModels
{
    private static readonly Lazy<string> Root = new(FindRepoRoot);
    private static readonly Dictionary<string, Lazy<JetModel>> Loaded = new();

    /// <summary>The checkout: the first folder above the test binaries that holds JetNative.sln.</summary>
    public static string RepoRoot => Root.Value;

    /// <summary>../shared beside the checkout.</summary>
    public static string Shared => Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared"));

    public static string TinyJetB => Path.Combine(RepoRoot, "tests", "fixtures", "tiny-jet-b");
    public static string TinyJetA => Path.Combine(Shared, "fixtures", "tiny-jet-a");
    public static string Demo => Path.Combine(RepoRoot, "models", "jetnative-demo");

    /// <summary>The golden fixtures: "tiny-jet-b" (committed) and "tiny-jet-a" (../shared).</summary>
    public static TheoryData<string> GoldenNames => new() { "tiny-jet-b", "tiny-jet-a" };

    /// <summary>The folder of a golden fixture; skips the test when it is absent.</summary>
    public static string RequireFolder(string name)
    {
        string folder = name switch
        {
            "tiny-jet-b" => TinyJetB,
            "tiny-jet-a" => TinyJetA,
            "demo" => Demo,
            _ => throw new ArgumentException(name),
        };
        if (!File.Exists(Path.Combine(folder, "config.json")))
        {
            string where = name == "tiny-jet-a"
                ? $"../shared beside the checkout ({folder})"
                : $"the checkout ({folder})";
            Assert.Skip($"needs the {name} model from {where}; absent on this machine");
        }
        return folder;
    }

    /// <summary>A model loaded once per run (skips when absent).</summary>
    public static JetModel Get(string name)
    {
        string folder = RequireFolder(name);
        Lazy<JetModel> lazy;
        lock (Loaded)
        {
            if (!Loaded.TryGetValue(name, out lazy!))
                Loaded[name] = lazy = new Lazy<JetModel>(() => JetModel.Load(folder, new JetModelOptions { Threads = 2 }));
        }
        return lazy.Value;
    }

    /// <summary>A small random model from tiny-jet-b's config (always available).</summary>
    public static JetModel Random(ulong seed = 7) =>
        JetModel.CreateRandom(File.ReadAllText(Path.Combine(TinyJetB, "config.json")), seed, new JetModelOptions { Threads = 2 });

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

/// <summary>A temporary folder removed when disposed.</summary>
internal sealed class TempFolder : IDisposable
{
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "jetnet-" + Guid.NewGuid().ToString("N"));

    public TempFolder(string? copyFrom = null)
    {
        Directory.CreateDirectory(Path);
        if (copyFrom is null)
            return;
        foreach (string file in Directory.GetFiles(copyFrom))
            File.Copy(file, System.IO.Path.Combine(Path, System.IO.Path.GetFileName(file)));
    }

    public string FilePath(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}
