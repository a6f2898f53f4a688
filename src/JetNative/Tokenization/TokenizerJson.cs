using System.Text.Json;

namespace JetNative.Tokenization;

/// <summary>One entry of tokenizer.json's <c>added_tokens</c>.</summary>
internal readonly record struct AddedToken(int Id, string Content, bool Special);

/// <summary>
/// What JetTokenizer needs from a Hugging Face tokenizer.json: a byte-level BPE model (vocab and
/// merges), its split regex, the added tokens and whether the text is NFC-normalised first.
/// </summary>
internal sealed class TokenizerJson
{
    /// <summary>GPT-2's split regex: what a ByteLevel pre-tokenizer with use_regex = true applies.</summary>
    public const string Gpt2SplitPattern =
        @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    /// <summary>Ids above this are rejected: JetTokenizer keeps a table indexed by id.</summary>
    public const int MaxTokenId = (1 << 24) - 1;

    public required Dictionary<string, int> Vocab { get; init; }
    public required List<string> Merges { get; init; }
    public required List<AddedToken> AddedTokens { get; init; }
    public required string SplitPattern { get; init; }
    public required bool Nfc { get; init; }
    public string? UnknownToken { get; init; }
    public string? ContinuingSubwordPrefix { get; init; }
    public string? EndOfWordSuffix { get; init; }

    /// <summary>Reads and validates <paramref name="path"/>; throws naming the file and the problem.</summary>
    public static TokenizerJson Read(string path)
    {
        if (!File.Exists(path))
            throw TokenizerErrors.MissingFile(path, "tokenizer.json");
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(TokenizerFiles.ReadAllBytes(path), new JsonDocumentOptions { MaxDepth = 64 });
        }
        catch (JsonException e)
        {
            throw TokenizerErrors.BadFile(path, $"not valid JSON ({e.Message})", e);
        }
        using (doc)
        {
            try
            {
                return Parse(doc.RootElement, path);
            }
            catch (InvalidOperationException e)
            {
                // JsonElement accessors throw this when a value has an unexpected JSON type.
                throw TokenizerErrors.BadFile(path, $"unexpected JSON value type ({e.Message})", e);
            }
            catch (FormatException e)
            {
                throw TokenizerErrors.BadFile(path, $"a number is out of range ({e.Message})", e);
            }
        }
    }

    private static TokenizerJson Parse(JsonElement root, string path)
    {
        if (root.ValueKind != JsonValueKind.Object)
            throw TokenizerErrors.BadFile(path, "the top level is not a JSON object");
        if (!root.TryGetProperty("model", out var model) || model.ValueKind != JsonValueKind.Object)
            throw TokenizerErrors.BadFile(path, "no \"model\" object");

        string modelType = OptionalString(model, "type") ?? "BPE";
        if (modelType != "BPE")
            throw TokenizerErrors.UnsupportedFile(path, $"model type \"{modelType}\" is not supported (only byte-level BPE)");
        if (model.TryGetProperty("dropout", out var dropout) && dropout.ValueKind != JsonValueKind.Null)
            throw TokenizerErrors.UnsupportedFile(path, "model.dropout is not supported (it must be null)");
        if (OptionalBool(model, "byte_fallback") == true)
            throw TokenizerErrors.UnsupportedFile(path, "model.byte_fallback = true is not supported (only byte-level BPE)");
        if (OptionalBool(model, "ignore_merges") == true)
            throw TokenizerErrors.UnsupportedFile(path, "model.ignore_merges = true is not supported");

        CheckDecoder(root, path);
        var vocab = ReadVocab(model, path);
        var merges = ReadMerges(model, path);
        var added = ReadAddedTokens(root, path);

        return new TokenizerJson
        {
            Vocab = vocab,
            Merges = merges,
            AddedTokens = added,
            SplitPattern = ReadSplitPattern(root, path),
            Nfc = ReadNormalizer(root, path),
            UnknownToken = NullIfEmpty(OptionalString(model, "unk_token")),
            ContinuingSubwordPrefix = NullIfEmpty(OptionalString(model, "continuing_subword_prefix")),
            EndOfWordSuffix = NullIfEmpty(OptionalString(model, "end_of_word_suffix")),
        };
    }

    private static Dictionary<string, int> ReadVocab(JsonElement model, string path)
    {
        if (!model.TryGetProperty("vocab", out var vocabElement) || vocabElement.ValueKind != JsonValueKind.Object)
            throw TokenizerErrors.BadFile(path, "model.vocab is missing or not an object");
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        var seenIds = new HashSet<int>();
        foreach (var entry in vocabElement.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.Number || !entry.Value.TryGetInt32(out int id) || id < 0 || id > MaxTokenId)
                throw TokenizerErrors.BadFile(path, $"model.vocab[\"{entry.Name}\"] is not an integer id in [0, {MaxTokenId}]");
            if (!seenIds.Add(id))
                throw TokenizerErrors.BadFile(path, $"model.vocab gives id {id} to more than one token");
            if (!vocab.TryAdd(entry.Name, id))
                throw TokenizerErrors.BadFile(path, $"model.vocab lists \"{entry.Name}\" twice");
        }
        if (vocab.Count == 0)
            throw TokenizerErrors.BadFile(path, "model.vocab is empty");
        return vocab;
    }

    /// <summary>Merges as "left right" strings; tokenizer.json has them as such strings or as [left, right] pairs.</summary>
    private static List<string> ReadMerges(JsonElement model, string path)
    {
        if (!model.TryGetProperty("merges", out var mergesElement) || mergesElement.ValueKind != JsonValueKind.Array)
            throw TokenizerErrors.BadFile(path, "model.merges is missing or not an array");
        var merges = new List<string>(mergesElement.GetArrayLength());
        int index = 0;
        foreach (var merge in mergesElement.EnumerateArray())
        {
            if (merge.ValueKind == JsonValueKind.String)
            {
                string text = merge.GetString()!;
                if (text.Split(' ').Length != 2 || text.Split(' ').Any(p => p.Length == 0))
                    throw TokenizerErrors.BadFile(path, $"model.merges[{index}] \"{text}\" is not two tokens separated by one space");
                merges.Add(text);
            }
            else if (merge.ValueKind == JsonValueKind.Array && merge.GetArrayLength() == 2
                     && merge[0].ValueKind == JsonValueKind.String && merge[1].ValueKind == JsonValueKind.String)
            {
                string left = merge[0].GetString()!, right = merge[1].GetString()!;
                if (left.Length == 0 || right.Length == 0 || left.Contains(' ') || right.Contains(' '))
                    throw TokenizerErrors.BadFile(path, $"model.merges[{index}] has an empty part or a part with a space (not byte-level)");
                merges.Add(left + " " + right);
            }
            else
            {
                throw TokenizerErrors.BadFile(path, $"model.merges[{index}] is neither a \"left right\" string nor a [left, right] pair");
            }
            index++;
        }
        return merges;
    }

    private static List<AddedToken> ReadAddedTokens(JsonElement root, string path)
    {
        var added = new List<AddedToken>();
        if (!root.TryGetProperty("added_tokens", out var array) || array.ValueKind == JsonValueKind.Null)
            return added;
        if (array.ValueKind != JsonValueKind.Array)
            throw TokenizerErrors.BadFile(path, "added_tokens is not an array");
        int index = 0;
        foreach (var token in array.EnumerateArray())
        {
            if (token.ValueKind != JsonValueKind.Object
                || !token.TryGetProperty("id", out var idElement) || idElement.ValueKind != JsonValueKind.Number
                || !idElement.TryGetInt32(out int id) || id < 0 || id > MaxTokenId
                || OptionalString(token, "content") is not { Length: > 0 } content)
                throw TokenizerErrors.BadFile(path, $"added_tokens[{index}] needs an integer \"id\" in [0, {MaxTokenId}] and a non-empty \"content\"");
            foreach (string flag in new[] { "lstrip", "rstrip", "single_word" })
            {
                if (OptionalBool(token, flag) == true)
                    throw TokenizerErrors.UnsupportedFile(path, $"added_tokens[{index}] (\"{content}\"): {flag} = true is not supported");
            }
            added.Add(new AddedToken(id, content, OptionalBool(token, "special") ?? false));
            index++;
        }
        return added;
    }

    /// <summary>
    /// The split regex: a Sequence of Split (Isolated, not inverted) then ByteLevel without its own
    /// regex (Qwen, Llama 3), or a ByteLevel alone with use_regex = true (GPT-2's regex).
    /// </summary>
    private static string ReadSplitPattern(JsonElement root, string path)
    {
        if (!root.TryGetProperty("pre_tokenizer", out var pre) || pre.ValueKind != JsonValueKind.Object)
            throw TokenizerErrors.BadFile(path, "no pre_tokenizer object (a byte-level BPE needs a ByteLevel pre-tokenizer)");
        string type = OptionalString(pre, "type") ?? "";
        if (type == "ByteLevel")
        {
            CheckByteLevel(pre, path, "pre_tokenizer");
            if (OptionalBool(pre, "use_regex") == false)
                throw TokenizerErrors.UnsupportedFile(path, "pre_tokenizer ByteLevel with use_regex = false and no Split is not supported");
            return Gpt2SplitPattern;
        }
        if (type == "Sequence")
        {
            if (!pre.TryGetProperty("pretokenizers", out var steps) || steps.ValueKind != JsonValueKind.Array
                || steps.GetArrayLength() != 2
                || OptionalString(steps[0], "type") != "Split" || OptionalString(steps[1], "type") != "ByteLevel")
                throw TokenizerErrors.UnsupportedFile(path, "pre_tokenizer Sequence is supported only as [Split, ByteLevel]");
            CheckByteLevel(steps[1], path, "pre_tokenizer ByteLevel");
            if (OptionalBool(steps[1], "use_regex") != false)
                throw TokenizerErrors.UnsupportedFile(path, "pre_tokenizer ByteLevel after a Split must have use_regex = false");
            return ReadSplit(steps[0], path);
        }
        throw TokenizerErrors.UnsupportedFile(path, $"pre_tokenizer type \"{type}\" is not supported (only ByteLevel or Sequence [Split, ByteLevel])");
    }

    private static void CheckDecoder(JsonElement root, string path)
    {
        if (!root.TryGetProperty("decoder", out var decoder) || decoder.ValueKind == JsonValueKind.Null)
            return;
        string type = OptionalString(decoder, "type") ?? "";
        if (type != "ByteLevel")
            throw TokenizerErrors.UnsupportedFile(path, $"decoder type \"{type}\" is not supported (only ByteLevel)");
    }

    private static void CheckByteLevel(JsonElement byteLevel, string path, string where)
    {
        if (OptionalBool(byteLevel, "add_prefix_space") == true)
            throw TokenizerErrors.UnsupportedFile(path, $"{where}: add_prefix_space = true is not supported");
    }

    private static string ReadSplit(JsonElement split, string path)
    {
        string behavior = OptionalString(split, "behavior") ?? "";
        if (behavior != "Isolated")
            throw TokenizerErrors.UnsupportedFile(path, $"pre_tokenizer Split behavior \"{behavior}\" is not supported (only Isolated)");
        if (OptionalBool(split, "invert") == true)
            throw TokenizerErrors.UnsupportedFile(path, "pre_tokenizer Split with invert = true is not supported");
        if (!split.TryGetProperty("pattern", out var pattern) || pattern.ValueKind != JsonValueKind.Object)
            throw TokenizerErrors.BadFile(path, "pre_tokenizer Split has no pattern object");
        if (OptionalString(pattern, "Regex") is { Length: > 0 } regex)
            return regex;
        if (OptionalString(pattern, "String") is { Length: > 0 } literal)
            return System.Text.RegularExpressions.Regex.Escape(literal);
        throw TokenizerErrors.BadFile(path, "pre_tokenizer Split pattern has neither a \"Regex\" nor a \"String\"");
    }

    /// <summary>True for an NFC normalizer (alone or as the only member of a Sequence), false for none.</summary>
    private static bool ReadNormalizer(JsonElement root, string path)
    {
        if (!root.TryGetProperty("normalizer", out var normalizer) || normalizer.ValueKind == JsonValueKind.Null)
            return false;
        string type = OptionalString(normalizer, "type") ?? "";
        if (type == "NFC")
            return true;
        if (type == "Sequence" && normalizer.TryGetProperty("normalizers", out var list) && list.ValueKind == JsonValueKind.Array)
        {
            int count = list.GetArrayLength();
            if (count == 0)
                return false;
            if (count == 1 && OptionalString(list[0], "type") == "NFC")
                return true;
        }
        throw TokenizerErrors.UnsupportedFile(path, $"normalizer \"{type}\" is not supported (only NFC or none)");
    }

    private static string? OptionalString(JsonElement obj, string name) =>
        obj.ValueKind == JsonValueKind.Object && obj.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String
            ? v.GetString()
            : null;

    private static bool? OptionalBool(JsonElement obj, string name) =>
        obj.ValueKind == JsonValueKind.Object && obj.TryGetProperty(name, out var v)
            ? v.ValueKind switch { JsonValueKind.True => true, JsonValueKind.False => false, _ => null }
            : null;

    private static string? NullIfEmpty(string? s) => string.IsNullOrEmpty(s) ? null : s;
}
