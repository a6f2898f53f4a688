using System.Text.Json;

namespace JetNative.Tokenization;

/// <summary>
/// What JetTokenizer needs from tokenizer_config.json, chat_template.jinja and
/// generation_config.json (all optional): special tokens, whether to add BOS/EOS, the chat template.
/// </summary>
internal sealed class TokenizerConfig
{
    public string? BosToken { get; private set; }
    public string? EosToken { get; private set; }
    public bool AddBosToken { get; private set; }
    public bool AddEosToken { get; private set; }
    public string? ChatTemplate { get; private set; }
    public int? GenerationBosId { get; private set; }
    public List<int> GenerationEosIds { get; } = new();

    /// <summary>Reads the optional files of <paramref name="folder"/>; a file that exists must be valid.</summary>
    public static TokenizerConfig Read(string folder)
    {
        var config = new TokenizerConfig();
        string tokenizerConfig = Path.Combine(folder, "tokenizer_config.json");
        if (File.Exists(tokenizerConfig))
            WithObject(tokenizerConfig, root => config.ReadTokenizerConfig(root, tokenizerConfig));

        string jinja = Path.Combine(folder, "chat_template.jinja");
        if (config.ChatTemplate is null && File.Exists(jinja))
            config.ChatTemplate = System.Text.Encoding.UTF8.GetString(TokenizerFiles.ReadAllBytes(jinja));

        string generationConfig = Path.Combine(folder, "generation_config.json");
        if (File.Exists(generationConfig))
            WithObject(generationConfig, root => config.ReadGenerationConfig(root, generationConfig));
        return config;
    }

    private static void WithObject(string path, Action<JsonElement> read)
    {
        try
        {
            using var doc = JsonDocument.Parse(TokenizerFiles.ReadAllBytes(path));
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw TokenizerErrors.BadFile(path, "the top level is not a JSON object");
            read(doc.RootElement);
        }
        catch (JsonException e)
        {
            throw TokenizerErrors.BadFile(path, $"not valid JSON ({e.Message})", e);
        }
    }

    private void ReadTokenizerConfig(JsonElement root, string path)
    {
        BosToken = TokenContent(root, "bos_token", path);
        EosToken = TokenContent(root, "eos_token", path);
        AddBosToken = Bool(root, "add_bos_token", path);
        AddEosToken = Bool(root, "add_eos_token", path);
        if (root.TryGetProperty("chat_template", out var template))
            ChatTemplate = ReadChatTemplate(template, path);
    }

    private void ReadGenerationConfig(JsonElement root, string path)
    {
        if (root.TryGetProperty("bos_token_id", out var bos) && bos.ValueKind != JsonValueKind.Null)
            GenerationBosId = Id(bos, path, "bos_token_id");
        if (root.TryGetProperty("eos_token_id", out var eos) && eos.ValueKind != JsonValueKind.Null)
        {
            if (eos.ValueKind == JsonValueKind.Array)
            {
                foreach (var item in eos.EnumerateArray())
                    GenerationEosIds.Add(Id(item, path, "eos_token_id"));
            }
            else
            {
                GenerationEosIds.Add(Id(eos, path, "eos_token_id"));
            }
        }
    }

    private static int Id(JsonElement value, string path, string name) =>
        value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out int id) && id >= 0
            ? id
            : throw TokenizerErrors.BadFile(path, $"{name} is not a non-negative integer (or a list of them)");

    private static bool Bool(JsonElement root, string name, string path)
    {
        if (!root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
            return false;
        return value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw TokenizerErrors.BadFile(path, $"{name} is not true or false"),
        };
    }

    /// <summary>A special token given as a string, as {"content": ...}, or null.</summary>
    private static string? TokenContent(JsonElement root, string name, string path)
    {
        if (!root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
            return null;
        if (value.ValueKind == JsonValueKind.String)
            return value.GetString();
        if (value.ValueKind == JsonValueKind.Object && value.TryGetProperty("content", out var content)
            && content.ValueKind == JsonValueKind.String)
            return content.GetString();
        throw TokenizerErrors.BadFile(path, $"{name} is neither a string, an object with \"content\", nor null");
    }

    /// <summary>A template string, or a list of {name, template} from which "default" (else the first) is taken.</summary>
    private static string? ReadChatTemplate(JsonElement value, string path)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.Null:
                return null;
            case JsonValueKind.String:
                return value.GetString();
            case JsonValueKind.Array:
                string? first = null;
                foreach (var item in value.EnumerateArray())
                {
                    if (item.ValueKind != JsonValueKind.Object
                        || !item.TryGetProperty("template", out var t) || t.ValueKind != JsonValueKind.String)
                        throw TokenizerErrors.BadFile(path, "chat_template list entries need a \"template\" string");
                    first ??= t.GetString();
                    if (item.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String && n.GetString() == "default")
                        return t.GetString();
                }
                return first;
            default:
                throw TokenizerErrors.BadFile(path, "chat_template is neither a string nor a list of named templates");
        }
    }
}
