using Xunit;

namespace JetNative.Tests;

public sealed class HuggingFaceCacheTests
{
    [Fact]
    public void CacheDirectoryFollowsTheHubVariables()
    {
        Assert.Equal("/hc", HuggingFaceCache.CacheDirectoryFrom(n => n == "HF_HUB_CACHE" ? "/hc" : "/home-hf", "/u"));
        Assert.Equal(Path.Combine("/hh", "hub"), HuggingFaceCache.CacheDirectoryFrom(n => n == "HF_HOME" ? "/hh" : null, "/u"));
        Assert.Equal(Path.Combine("/u", ".cache", "huggingface", "hub"), HuggingFaceCache.CacheDirectoryFrom(_ => null, "/u"));
    }

    [Theory]
    [InlineData("jet-ai/Jet-Nemotron-2B", true)]
    [InlineData("org/name@v1.0", true)]
    [InlineData("/abs/path", false)]
    [InlineData("a/b/c", false)]
    [InlineData("name", false)]
    public void RecognisesRepoIds(string text, bool expected) => Assert.Equal(expected, HuggingFaceCache.LooksLikeRepoId(text));

    private static string MakeSnapshot(string cache, string repo, string commit, string? refName = "main")
    {
        string repoDir = Path.Combine(cache, "models--" + repo.Replace("/", "--"));
        string snapshot = Path.Combine(repoDir, "snapshots", commit);
        Directory.CreateDirectory(snapshot);
        File.WriteAllText(Path.Combine(snapshot, "config.json"), "{}");
        if (refName is not null)
        {
            Directory.CreateDirectory(Path.Combine(repoDir, "refs"));
            File.WriteAllText(Path.Combine(repoDir, "refs", refName), commit + "\n");
        }
        return snapshot;
    }

    [Fact]
    public void FindsTheSnapshotOfRefsMain()
    {
        using var cache = new Support.TempFolder();
        MakeSnapshot(cache.Path, "jet-ai/Jet-Nemotron-2B", "aaaa", refName: null);
        string main = MakeSnapshot(cache.Path, "jet-ai/Jet-Nemotron-2B", "bbbb");
        Assert.Equal(main, HuggingFaceCache.TryFind("jet-ai/Jet-Nemotron-2B", cache.Path, out _));
        Assert.Equal(main, HuggingFaceCache.ResolveModelFolder("jet-ai/Jet-Nemotron-2B", cache.Path));
    }

    [Fact]
    public void FindsARevisionByHash()
    {
        using var cache = new Support.TempFolder();
        string old = MakeSnapshot(cache.Path, "o/m", "1111", refName: null);
        MakeSnapshot(cache.Path, "o/m", "2222");
        Assert.Equal(old, HuggingFaceCache.TryFind("o/m@1111", cache.Path, out _));
    }

    [Fact]
    public void AMissingRepoListsWhereItLooked()
    {
        using var cache = new Support.TempFolder();
        var e = Assert.Throws<JetException>(() => HuggingFaceCache.ResolveModelFolder("nobody/nothing", cache.Path));
        Assert.Equal(JetStatus.Io, e.Status);
        Assert.Contains(Path.Combine(cache.Path, "models--nobody--nothing", "refs", "main"), e.Message);
        Assert.Contains(Path.Combine(cache.Path, "models--nobody--nothing", "snapshots"), e.Message);
        Assert.Contains("no download", e.Message);
    }

    [Theory]
    [InlineData("./models/no-such-jet-model")]
    [InlineData("../models/jetnative-demo")]
    [InlineData("~/no-such-jet-model-folder")]
    [InlineData("a/b/c")]
    public void AMissingFolderSaysSoAndWhereItLooked(string path)
    {
        var e = Assert.Throws<JetException>(() => HuggingFaceCache.ResolveModelFolder(path, "/nonexistent"));
        Assert.Equal(JetStatus.Io, e.Status);
        Assert.Contains($"the model folder '{path}' does not exist", e.Message);
        Assert.DoesNotContain("Hugging Face cache", e.Message);
        Assert.Contains(Directory.GetCurrentDirectory(), e.Message);
    }

    [Fact]
    public void AnOrgNamePathWhoseFirstPartExistsHereIsAFolderNotARepo()
    {
        // "models/jetnative-demo" run from a folder that has models/ but not the demo in it.
        string first = "jt-" + Guid.NewGuid().ToString("N")[..8];
        Directory.CreateDirectory(first);
        try
        {
            string path = first + "/jetnative-demo";
            Assert.True(HuggingFaceCache.LooksLikeRepoId(path));
            var e = Assert.Throws<JetException>(() => JetModel.Load(path));
            Assert.Contains($"the model folder '{path}' does not exist: looked at {Path.GetFullPath(path)}", e.Message);
            Assert.Contains($"the deepest part that exists is {Path.GetFullPath(first)}", e.Message);
            // A cached repo of that name still wins over the missing folder.
            using var cache = new Support.TempFolder();
            string snapshot = MakeSnapshot(cache.Path, path, "cccc");
            Assert.Equal(snapshot, HuggingFaceCache.ResolveModelFolder(path, cache.Path));
        }
        finally
        {
            Directory.Delete(first);
        }
    }

    [Fact]
    public void AnExistingFolderWinsOverTheCache()
    {
        using var cache = new Support.TempFolder();
        Assert.Equal(cache.Path, HuggingFaceCache.ResolveModelFolder(cache.Path, "/nonexistent"));
    }

    [Fact]
    public void JetModelLoadsFromTheCache()
    {
        string source = Support.TestModels.RequireFolder("tiny-jet-b");
        using var cache = new Support.TempFolder();
        string snapshot = MakeSnapshot(cache.Path, "test-org/tiny-jet-b", "cafe");
        foreach (string f in Directory.GetFiles(source))
            File.Copy(f, Path.Combine(snapshot, Path.GetFileName(f)), overwrite: true);
        string folder = HuggingFaceCache.ResolveModelFolder("test-org/tiny-jet-b", cache.Path);
        using JetModel model = JetModel.Load(folder);
        Assert.Equal(Path.GetFullPath(snapshot), model.Folder);
    }
}
