using System.Buffers;
using System.Collections.Concurrent;
using System.Text;
using System.Text.RegularExpressions;
using JetNative.Interop;
using JetNative.Tokenization;
using Microsoft.ML.Tokenizers;

namespace JetNative.Tokenization;

/// <summary>
/// The tokenizer of a Jet-Nemotron checkpoint: Qwen2.5's byte-level BPE (or any tokenizer.json of
/// the same shape), built on Microsoft.ML.Tokenizers, plus the ChatML chat template and a streaming
/// decoder. Thread-safe: encode and decode may be called from many threads at once.
/// </summary>
public sealed class JetTokenizer
{
    // Words (pre-tokens) up to this many chars are cached, up to this many words: memory stays
    // bounded (tens of MB at most) whatever text comes in.
    private const int MaxCachedWordLength = 32;
    private const int MaxCachedWords = 250_000;

    private readonly BpeTokenizer _bpe;
    private readonly Regex _split;
    private readonly Normalizer? _normalizer;
    private readonly ConcurrentDictionary<string, int[]> _wordCache = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int[]>.AlternateLookup<ReadOnlySpan<char>> _wordLookup;
    private int _cachedWords;
    private readonly Regex? _addedTokenSplitter;
    private readonly Dictionary<string, int> _addedTokens;
    private readonly byte[]?[] _tokenBytes;
    private readonly bool[] _isSpecial;
    private readonly ChatMlTemplate? _chat;
    private readonly JetException? _chatError;
    private readonly int[] _prefix;
    private readonly int[] _suffix;

    private JetTokenizer(TokenizerJson json, TokenizerConfig config, string tokenizerJsonPath)
    {
        _addedTokens = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var token in json.AddedTokens)
            _addedTokens[token.Content] = token.Id;

        int maxId = Math.Max(json.Vocab.Values.Max(), json.AddedTokens.Count == 0 ? 0 : json.AddedTokens.Max(t => t.Id));
        _tokenBytes = new byte[]?[maxId + 1];
        _isSpecial = new bool[maxId + 1];
        foreach (var (token, id) in json.Vocab)
            _tokenBytes[id] = ByteLevelMap.ToBytes(token);
        foreach (var token in json.AddedTokens)
        {
            _tokenBytes[token.Id] = Encoding.UTF8.GetBytes(token.Content);
            _isSpecial[token.Id] = token.Special;
        }

        try
        {
            _split = new Regex(json.SplitPattern, RegexOptions.Compiled | RegexOptions.CultureInvariant);
        }
        catch (ArgumentException e)
        {
            throw TokenizerErrors.BadFile(tokenizerJsonPath, $"the split regex is not a valid .NET regex ({e.Message})", e);
        }
        _normalizer = json.Nfc ? NfcNormalizer.Instance : null;
        _wordLookup = _wordCache.GetAlternateLookup<ReadOnlySpan<char>>();
        var options = new BpeOptions(json.Vocab)
        {
            Merges = json.Merges,
            ByteLevel = true,
            SpecialTokens = _addedTokens,
            PreTokenizer = new RegexPreTokenizer(_split, _addedTokens),
            Normalizer = _normalizer,
            UnknownToken = json.UnknownToken,
            ContinuingSubwordPrefix = json.ContinuingSubwordPrefix,
            EndOfWordSuffix = json.EndOfWordSuffix,
        };
        try
        {
            _bpe = BpeTokenizer.Create(options);
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException)
        {
            throw TokenizerErrors.BadFile(tokenizerJsonPath, $"the BPE model is inconsistent ({e.Message})", e);
        }

        // Added tokens are matched in the raw text before normalisation (as Hugging Face does);
        // longest first so that the alternation is leftmost-longest.
        if (_addedTokens.Count > 0)
        {
            string alternation = string.Join("|", _addedTokens.Keys
                .OrderByDescending(k => k.Length).ThenBy(k => k, StringComparer.Ordinal).Select(Regex.Escape));
            _addedTokenSplitter = new Regex(alternation, RegexOptions.Compiled | RegexOptions.CultureInvariant);
        }

        BosTokenId = IdOf(config.BosToken) ?? config.GenerationBosId;
        EosTokenId = IdOf(config.EosToken) ?? (config.GenerationEosIds.Count > 0 ? config.GenerationEosIds[0] : null);
        _prefix = config.AddBosToken && BosTokenId is int bos ? [bos] : [];
        _suffix = config.AddEosToken && EosTokenId is int eos ? [eos] : [];

        var stops = new List<int>();
        if (EosTokenId is int e0)
            stops.Add(e0);
        stops.AddRange(config.GenerationEosIds);
        if (_addedTokens.TryGetValue("<|im_end|>", out int imEnd))
            stops.Add(imEnd);
        StopTokenIds = stops.Where(id => id < _tokenBytes.Length).Distinct().ToArray();

        ChatTemplate = config.ChatTemplate;
        try
        {
            _chat = ChatMlTemplate.For(config.ChatTemplate);
        }
        catch (JetException e) when (e.Status == JetStatus.Unsupported)
        {
            _chatError = e; // reported when ApplyChatTemplate is called: encoding still works
        }
    }

    /// <summary>
    /// Loads the tokenizer of the checkpoint in <paramref name="folder"/>: tokenizer.json (required),
    /// and tokenizer_config.json, chat_template.jinja and generation_config.json when present.
    /// Throws JetException naming the file and the problem: JET_ERR_IO for a missing folder or
    /// tokenizer.json (or an unreadable file), JET_ERR_FORMAT for a malformed file,
    /// JET_ERR_UNSUPPORTED for a tokenizer.json this class cannot run faithfully.
    /// </summary>
    public static JetTokenizer FromFolder(string folder)
    {
        ArgumentNullException.ThrowIfNull(folder);
        if (!Directory.Exists(folder))
            throw TokenizerErrors.MissingFile(folder, "tokenizer folder");
        string path = Path.Combine(folder, "tokenizer.json");
        var json = TokenizerJson.Read(path);
        var config = TokenizerConfig.Read(folder);
        return new JetTokenizer(json, config, path);
    }

    /// <summary>The Microsoft.ML.Tokenizers BPE tokenizer underneath (for libraries that take a <see cref="Tokenizer"/>).</summary>
    public Tokenizer InnerTokenizer => _bpe;

    /// <summary>One more than the largest token id of the vocabulary and the added tokens.</summary>
    public int VocabSize => _tokenBytes.Length;

    /// <summary>Beginning-of-sequence token (tokenizer_config's bos_token, else generation_config's), or null.</summary>
    public int? BosTokenId { get; }

    /// <summary>End-of-sequence token (tokenizer_config's eos_token, else generation_config's first), or null.</summary>
    public int? EosTokenId { get; }

    /// <summary>Tokens that end a generation: the EOS tokens, and &lt;|im_end|&gt; when the vocabulary has it.</summary>
    public IReadOnlyList<int> StopTokenIds { get; }

    /// <summary>The checkpoint's chat template (Jinja source), or null when it has none.</summary>
    public string? ChatTemplate { get; }

    /// <summary>
    /// Token ids of <paramref name="text"/>. Added tokens written in the text (such as
    /// &lt;|im_start|&gt;) become their ids. With <paramref name="addSpecialTokens"/>, BOS/EOS are added
    /// where tokenizer_config.json asks for them (Qwen2.5 asks for neither).
    /// </summary>
    public IReadOnlyList<int> Encode(string text, bool addSpecialTokens = false)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>(text.Length / 3 + 4);
        if (addSpecialTokens)
            ids.AddRange(_prefix);
        int start = 0;
        if (_addedTokenSplitter is not null)
        {
            for (var match = _addedTokenSplitter.Match(text); match.Success; match = match.NextMatch())
            {
                EncodeOrdinary(text, start, match.Index - start, ids);
                ids.Add(_addedTokens[match.Value]);
                start = match.Index + match.Length;
            }
        }
        EncodeOrdinary(text, start, text.Length - start, ids);
        if (addSpecialTokens)
            ids.AddRange(_suffix);
        return ids;
    }

    /// <summary>
    /// Encodes text without added tokens the way Hugging Face does: normalise, split with the
    /// pre-tokenizer regex (Isolated: the text between matches is a word too), then BPE each word
    /// (Microsoft.ML.Tokenizers, pre-tokenization and normalisation off), with a word cache in front.
    /// </summary>
    private void EncodeOrdinary(string text, int start, int length, List<int> ids)
    {
        if (length == 0)
            return;
        string segment = start == 0 && length == text.Length ? text : text.Substring(start, length);
        if (_normalizer is not null)
            segment = _normalizer.Normalize(segment);
        int position = 0;
        foreach (var match in _split.EnumerateMatches(segment))
        {
            if (match.Length == 0)
                continue;
            if (match.Index > position)
                EncodeWord(segment.AsSpan(position, match.Index - position), ids);
            EncodeWord(segment.AsSpan(match.Index, match.Length), ids);
            position = match.Index + match.Length;
        }
        if (position < segment.Length)
            EncodeWord(segment.AsSpan(position), ids);
    }

    private void EncodeWord(ReadOnlySpan<char> word, List<int> ids)
    {
        if (_wordLookup.TryGetValue(word, out int[]? cached))
        {
            ids.AddRange(cached);
            return;
        }
        var wordIds = _bpe.EncodeToIds(word, considerPreTokenization: false, considerNormalization: false);
        if (word.Length <= MaxCachedWordLength && Volatile.Read(ref _cachedWords) < MaxCachedWords
            && _wordLookup.TryAdd(word, wordIds.ToArray()))
            Interlocked.Increment(ref _cachedWords);
        ids.AddRange(wordIds);
    }

    /// <summary>
    /// The text of <paramref name="ids"/>. Bytes that do not form valid UTF-8 become U+FFFD.
    /// With <paramref name="skipSpecial"/>, special tokens (&lt;|endoftext|&gt;, &lt;|im_end|&gt;...) are left out.
    /// Throws JetException (JET_ERR_INVALID_ARGUMENT) for an id that is not in the vocabulary.
    /// </summary>
    public string Decode(IEnumerable<int> ids, bool skipSpecial = false)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var buffer = new ArrayBufferWriter<byte>(256);
        foreach (int id in ids)
        {
            byte[] bytes = TokenBytes(id, nameof(ids));
            if (skipSpecial && _isSpecial[id])
                continue;
            buffer.Write(bytes);
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>A decoder for ids that arrive one at a time; see <see cref="StreamingDecoder"/>.</summary>
    public StreamingDecoder CreateStreamingDecoder(bool skipSpecial = false) => new(this, skipSpecial);

    /// <summary>
    /// The ChatML prompt for <paramref name="messages"/>: <c>&lt;|im_start|&gt;{role}\n{content}&lt;|im_end|&gt;\n</c>
    /// per message (after the template's default system message when the first one is not a system
    /// message), then <c>&lt;|im_start|&gt;assistant\n</c> when <paramref name="addGenerationPrompt"/>.
    /// Throws JetException: JET_ERR_UNSUPPORTED when the checkpoint's template is not ChatML,
    /// JET_ERR_INVALID_ARGUMENT for a role other than system, user, assistant or tool.
    /// </summary>
    public string ApplyChatTemplate(IEnumerable<(string Role, string Content)> messages, bool addGenerationPrompt = true)
    {
        if (_chat is null)
            throw new JetException(_chatError!.Status, _chatError.NativeMessage, _chatError);
        return _chat.Apply(messages, addGenerationPrompt);
    }

    /// <summary>The id of a token string (vocabulary or added token), or null.</summary>
    public int? TokenToId(string token)
    {
        ArgumentNullException.ThrowIfNull(token);
        if (_addedTokens.TryGetValue(token, out int id))
            return id;
        return _bpe.Vocabulary.TryGetValue(token, out id) ? id : null;
    }

    internal bool IsSpecial(int id) => _isSpecial[id];

    internal byte[] TokenBytes(int id, string paramName)
    {
        if ((uint)id >= (uint)_tokenBytes.Length || _tokenBytes[id] is not { } bytes)
            throw TokenizerErrors.BadArgument(paramName, $"token id {id} is not in the vocabulary (size {VocabSize})");
        return bytes;
    }

    private int? IdOf(string? token) => token is not null && TokenToId(token) is int id ? id : null;
}
