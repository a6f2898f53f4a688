using System.Text.Json.Nodes;
using JetNative.Interop;
using Xunit;
using JetNative.Tokenization;

namespace JetNative.Tests.Tokenization;

/// <summary>FromFolder on other tokenizer.json layouts and on missing, malformed or unsupported files.</summary>
public class TokenizerFileTests
{
    private static JsonObject TinyJson() =>
        JsonNode.Parse(File.ReadAllText(Path.Combine(TokenizerTestPaths.TinyBpe, "tokenizer.json")))!.AsObject();

    private static TempTokenizerFolder FolderWith(JsonObject tokenizerJson)
    {
        var folder = new TempTokenizerFolder(TokenizerTestPaths.TinyBpe);
        folder.Write("tokenizer.json", tokenizerJson.ToJsonString());
        return folder;
    }

    [Fact]
    public void ByteLevelAloneWithUseRegex_UsesGpt2Regex()
    {
        var json = TinyJson();
        json["pre_tokenizer"] = JsonNode.Parse("""{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}""");
        using var folder = FolderWith(json);
        var t = JetTokenizer.FromFolder(folder.Path);
        // GPT-2's regex keeps digit runs together (" ?\p{N}+"), so the merge "1 2" applies,
        // where Qwen's regex splits digits one by one ([49, 50], see JetTokenizerTests).
        Assert.Equal(new[] { 264 }, t.Encode("12"));
        Assert.Equal(new[] { 261, 262 }, t.Encode("hello the"));
    }

    [Fact]
    public void MergesAsStrings_SameAsPairs()
    {
        var json = TinyJson();
        var merges = json["model"]!["merges"]!.AsArray();
        var legacy = new JsonArray(merges.Select(m => (JsonNode)JsonValue.Create($"{m![0]} {m[1]}")).ToArray());
        json["model"]!["merges"] = legacy;
        using var folder = FolderWith(json);
        var t = JetTokenizer.FromFolder(folder.Path);
        Assert.Equal(new[] { 261, 262 }, t.Encode("hello the"));
        Assert.Equal(new[] { 263 }, t.Encode("e\u0301"));
    }

    [Fact]
    public void NoNormalizer_KeepsNfdText()
    {
        var json = TinyJson();
        json["normalizer"] = null;
        using var folder = FolderWith(json);
        var t = JetTokenizer.FromFolder(folder.Path);
        // e (101) + U+0301 (CC 81) unnormalised: three byte tokens, not the é merge.
        Assert.Equal(new[] { 101, 204, 129 }, t.Encode("e\u0301"));
    }

    [Fact]
    public void MissingFolder_Throws()
    {
        string missing = Path.Combine(Path.GetTempPath(), "jettok-missing-" + Guid.NewGuid().ToString("N"));
        var e = Assert.Throws<JetException>(() => JetTokenizer.FromFolder(missing));
        Assert.Equal(JetStatus.Io, e.Status);
        Assert.Equal($"{missing}: tokenizer folder not found", e.NativeMessage);
    }

    [Fact]
    public void MissingTokenizerJson_ThrowsNamingTheFile()
    {
        using var folder = new TempTokenizerFolder();
        var e = Assert.Throws<JetException>(() => JetTokenizer.FromFolder(folder.Path));
        Assert.Equal(JetStatus.Io, e.Status);
        Assert.Equal($"{folder.File("tokenizer.json")}: tokenizer.json not found", e.NativeMessage);
    }

    [Theory]
    [InlineData("", "not valid JSON")]
    [InlineData("{\"model\": ", "not valid JSON")]
    [InlineData("[1, 2]", "top level is not a JSON object")]
    [InlineData("{}", "no \"model\" object")]
    public void MalformedTokenizerJson_ThrowsNamingFileAndProblem(string content, string problem)
    {
        using var folder = new TempTokenizerFolder(TokenizerTestPaths.TinyBpe);
        folder.Write("tokenizer.json", content);
        var e = Assert.Throws<JetException>(() => JetTokenizer.FromFolder(folder.Path));
        Assert.Equal(JetStatus.Format, e.Status);
        Assert.StartsWith(folder.File("tokenizer.json") + ": ", e.NativeMessage);
        Assert.Contains(problem, e.NativeMessage);
    }

    /// <summary>
    /// An edit of the tiny tokenizer.json (a JSON path and its new value) and the expected complaint:
    /// "[F]" for a malformed file (JET_ERR_FORMAT), "[U]" for an unsupported one (JET_ERR_UNSUPPORTED).
    /// </summary>
    public static readonly TheoryData<string, string, string> BadEdits = new()
    {
        { "model.type", "\"WordPiece\"", "[U] model type \"WordPiece\" is not supported" },
        { "model.byte_fallback", "true", "[U] byte_fallback = true is not supported" },
        { "model.ignore_merges", "true", "[U] ignore_merges = true is not supported" },
        { "model.dropout", "0.1", "[U] model.dropout is not supported" },
        { "model.vocab", "[]", "[F] model.vocab is missing or not an object" },
        { "model.vocab", "{}", "[F] model.vocab is empty" },
        { "model.vocab", "{\"a\": \"x\"}", "[F] model.vocab[\"a\"] is not an integer id in [0, 16777215]" },
        { "model.vocab", "{\"a\": 2147483647}", "[F] model.vocab[\"a\"] is not an integer id" },
        { "model.vocab", "{\"a\": 0, \"b\": 0}", "[F] gives id 0 to more than one token" },
        { "model.merges", "{}", "[F] model.merges is missing or not an array" },
        { "model.merges", "[\"abc\"]", "[F] model.merges[0] \"abc\" is not two tokens" },
        { "model.merges", "[[\"a\"]]", "[F] model.merges[0] is neither" },
        { "model.merges", "[[\"Ġ\", \"Ġ\"]]", "[F] the BPE model is inconsistent" },
        { "normalizer", "{\"type\": \"NFKC\"}", "[U] normalizer \"NFKC\" is not supported" },
        { "pre_tokenizer", "null", "[F] no pre_tokenizer object" },
        { "pre_tokenizer", "{\"type\": \"Whitespace\"}", "[U] pre_tokenizer type \"Whitespace\" is not supported" },
        { "pre_tokenizer", "{\"type\": \"ByteLevel\", \"add_prefix_space\": true, \"use_regex\": true}", "[U] add_prefix_space = true is not supported" },
        { "pre_tokenizer", "{\"type\": \"ByteLevel\", \"use_regex\": false}", "[U] use_regex = false and no Split" },
        { "pre_tokenizer", "{\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Digits\"}, {\"type\": \"ByteLevel\"}]}", "[U] only as [Split, ByteLevel]" },
        { "pre_tokenizer.pretokenizers.0.behavior", "\"Removed\"", "[U] Split behavior \"Removed\" is not supported" },
        { "pre_tokenizer.pretokenizers.0.invert", "true", "[U] invert = true is not supported" },
        { "pre_tokenizer.pretokenizers.0.pattern", "{\"Regex\": \"(unclosed\"}", "[F] not a valid .NET regex" },
        { "pre_tokenizer.pretokenizers.1.use_regex", "true", "[U] must have use_regex = false" },
        { "decoder", "{\"type\": \"WordPiece\"}", "[U] decoder type \"WordPiece\" is not supported" },
        { "added_tokens", "{}", "[F] added_tokens is not an array" },
        { "added_tokens", "[{\"id\": -1, \"content\": \"x\"}]", "[F] added_tokens[0] needs" },
        { "added_tokens", "[{\"id\": \"7\", \"content\": \"x\"}]", "[F] added_tokens[0] needs" },
        { "added_tokens", "[{\"id\": 300, \"content\": \"\"}]", "[F] added_tokens[0] needs" },
        { "added_tokens", "[{\"id\": 300, \"content\": \"<x>\", \"lstrip\": true}]", "[U] lstrip = true is not supported" },
    };

    [Theory]
    [MemberData(nameof(BadEdits))]
    public void BadOrUnsupportedTokenizerJson_ThrowsNamingFileAndProblem(string jsonPath, string value, string problem)
    {
        var json = TinyJson();
        Set(json, jsonPath, JsonNode.Parse(value));
        using var folder = FolderWith(json);
        var e = Assert.Throws<JetException>(() => JetTokenizer.FromFolder(folder.Path));
        Assert.Equal(problem.StartsWith("[U] ") ? JetStatus.Unsupported : JetStatus.Format, e.Status);
        Assert.StartsWith(folder.File("tokenizer.json") + ": ", e.NativeMessage);
        Assert.Contains(problem[4..], e.NativeMessage);
    }

    [Theory]
    [InlineData("tokenizer_config.json", "{\"bos_token\": 5}", "bos_token is neither")]
    [InlineData("tokenizer_config.json", "{\"add_bos_token\": \"yes\"}", "add_bos_token is not true or false")]
    [InlineData("tokenizer_config.json", "{\"chat_template\": 3}", "chat_template is neither")]
    [InlineData("tokenizer_config.json", "[]", "top level is not a JSON object")]
    [InlineData("generation_config.json", "{\"eos_token_id\": \"x\"}", "eos_token_id is not a non-negative integer")]
    [InlineData("generation_config.json", "{\"bos_token_id\": -3}", "bos_token_id is not a non-negative integer")]
    [InlineData("generation_config.json", "{oops", "not valid JSON")]
    public void BadOptionalConfig_ThrowsNamingFileAndProblem(string file, string content, string problem)
    {
        using var folder = new TempTokenizerFolder(TokenizerTestPaths.TinyBpe);
        folder.Write(file, content);
        var e = Assert.Throws<JetException>(() => JetTokenizer.FromFolder(folder.Path));
        Assert.Equal(JetStatus.Format, e.Status);
        Assert.StartsWith(folder.File(file) + ": ", e.NativeMessage);
        Assert.Contains(problem, e.NativeMessage);
    }

    private static void Set(JsonObject root, string path, JsonNode? value)
    {
        string[] parts = path.Split('.');
        JsonNode node = root;
        foreach (string part in parts[..^1])
            node = int.TryParse(part, out int index) ? node[index]! : node[part]!;
        if (int.TryParse(parts[^1], out int last))
            node[last] = value;
        else
            node[parts[^1]] = value;
    }
}
