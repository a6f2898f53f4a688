using System.Text.RegularExpressions;

namespace JetNative;

/// <summary>
/// Finds a model that the Hugging Face hub client already downloaded (no download here): the
/// cache is $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub; a repo "org/name"
/// lives in models--org--name/snapshots/{revision}/, the revision of "main" in refs/main.
/// </summary>
public static partial class HuggingFaceCache
{
    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*(@[A-Za-z0-9._/-]+)?$")]
    private static partial Regex RepoIdPattern();

    /// <summary>True for "org/name" or "org/name@revision".</summary>
    public static bool LooksLikeRepoId(string text) => RepoIdPattern().IsMatch(text);

    /// <summary>The hub cache folder the environment selects (it may not exist).</summary>
    public static string CacheDirectory => CacheDirectoryFrom(Environment.GetEnvironmentVariable,
        Environment.GetFolderPath(Environment.SpecialFolder.UserProfile));

    internal static string CacheDirectoryFrom(Func<string, string?> environment, string home)
    {
        string? hubCache = environment("HF_HUB_CACHE");
        if (!string.IsNullOrEmpty(hubCache))
            return hubCache;
        string? hfHome = environment("HF_HOME");
        if (!string.IsNullOrEmpty(hfHome))
            return Path.Combine(hfHome, "hub");
        return Path.Combine(home, ".cache", "huggingface", "hub");
    }

    /// <summary>
    /// The snapshot folder of <paramref name="repoId"/> ("org/name", optionally "@revision": a
    /// branch or tag in refs/, or a commit hash; default main), or null with the places looked at.
    /// </summary>
    public static string? TryFind(string repoId, out IReadOnlyList<string> lookedAt) =>
        TryFind(repoId, CacheDirectory, out lookedAt);

    internal static string? TryFind(string repoId, string cacheDirectory, out IReadOnlyList<string> lookedAt)
    {
        var looked = new List<string>();
        lookedAt = looked;
        string revision = "main";
        int at = repoId.IndexOf('@');
        if (at >= 0)
        {
            revision = repoId[(at + 1)..];
            repoId = repoId[..at];
        }
        string repoDir = Path.Combine(cacheDirectory, "models--" + repoId.Replace("/", "--"));
        string refFile = Path.Combine(repoDir, "refs", revision);
        looked.Add(refFile);
        string commit = revision;
        if (File.Exists(refFile))
            commit = File.ReadAllText(refFile).Trim();
        string snapshot = Path.Combine(repoDir, "snapshots", commit);
        looked.Add(snapshot);
        if (Directory.Exists(snapshot))
            return snapshot;
        // refs/main missing (a cache copied by hand): take the only snapshot, if there is one.
        string snapshots = Path.Combine(repoDir, "snapshots");
        if (revision == "main" && Directory.Exists(snapshots))
        {
            string[] all = Directory.GetDirectories(snapshots);
            if (all.Length == 1)
                return all[0];
        }
        return null;
    }

    /// <summary>
    /// A model folder for <paramref name="pathOrRepoId"/>: an existing folder as is (a leading ~ is
    /// the home folder); a repo id ("org/name[@revision]") from the cache. Throws JetException (Io)
    /// when the argument looks like a path (not "org/name", or "org/name" whose "org" exists here)
    /// and no such folder (or cached repo) exists, saying the folder does not exist and where it
    /// looked; and for a repo id that is not in the cache, listing where it looked.
    /// </summary>
    public static string ResolveModelFolder(string pathOrRepoId) => ResolveModelFolder(pathOrRepoId, CacheDirectory);

    internal static string ResolveModelFolder(string pathOrRepoId, string cacheDirectory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(pathOrRepoId);
        string expanded = ExpandHome(pathOrRepoId);
        if (Directory.Exists(expanded))
            return expanded;
        if (!LooksLikeRepoId(pathOrRepoId))
            throw new JetException(JetStatus.Io, MissingFolderMessage(pathOrRepoId, expanded));
        // "org/name" is a repo id unless its first part exists here ("models/jetnative-demo" run
        // from a folder with models/): then a cached repo of that name still wins, else it is a
        // folder that does not exist.
        string? found = TryFind(pathOrRepoId, cacheDirectory, out IReadOnlyList<string> looked);
        if (found is not null)
            return found;
        if (LooksLikePath(pathOrRepoId))
            throw new JetException(JetStatus.Io, MissingFolderMessage(pathOrRepoId, expanded));
        throw new JetException(JetStatus.Io,
            $"model '{pathOrRepoId}' is neither a folder nor in the Hugging Face cache (no download is done); looked at: " +
            string.Join(", ", new[] { Path.GetFullPath(pathOrRepoId) }.Concat(looked)) +
            ". Download it first (e.g. `hf download " + pathOrRepoId.Split('@')[0] + "`) or pass a folder.");
    }

    /// <summary>
    /// True when <paramref name="text"/> is meant as a path rather than a repo id: it starts with
    /// ".", "~" or a separator, contains a backslash or more than one "/", or its first part is an
    /// existing file or folder here (as "models" in "models/jetnative-demo").
    /// </summary>
    internal static bool LooksLikePath(string text)
    {
        if (text.StartsWith('.') || text.StartsWith('~') || text.StartsWith('/') || text.Contains('\\'))
            return true;
        string[] parts = text.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length > 2)
            return true;
        return parts.Length > 1 && (Directory.Exists(parts[0]) || File.Exists(parts[0]));
    }

    private static string ExpandHome(string path)
    {
        if (path == "~" || path.StartsWith("~/", StringComparison.Ordinal))
            return Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), path.Length > 2 ? path[2..] : "");
        return path;
    }

    /// <summary>"the model folder does not exist", where it looked, and the deepest part of the path that exists.</summary>
    private static string MissingFolderMessage(string argument, string expanded)
    {
        string full = Path.GetFullPath(expanded);
        if (File.Exists(full))
            return $"model '{argument}' is a file, not a folder ({full}): pass a checkpoint folder (config.json + *.safetensors)";
        string? existing = Path.GetDirectoryName(full);
        while (existing is not null && !Directory.Exists(existing))
            existing = Path.GetDirectoryName(existing);
        return $"the model folder '{argument}' does not exist: looked at {full} (relative to {Directory.GetCurrentDirectory()})" +
            (existing is null ? "" : $"; the deepest part that exists is {existing}");
    }
}
