using System.Runtime.InteropServices;
using JetNative.Chat;
using JetNative.Interop;
using Microsoft.Extensions.AI;
using JetNative.Tokenization;

namespace JetNative;

/// <summary>
/// A loaded Jet-Nemotron model: weights on a device, shared by any number of sessions (each
/// session holds its own cache). Thread-safe. Dispose it when done; sessions still open keep the
/// native model alive until they are disposed too.
/// </summary>
public sealed class JetModel : IDisposable
{
    internal readonly JetModelHandle Handle;
    private volatile bool _disposed;

    private JetModel(JetModelHandle handle, string? folder, JetModelOptions options, JetTokenizer? tokenizer)
    {
        Handle = handle;
        Folder = folder;
        Options = options;
        Info = ReadInfo(handle);
        Tokenizer = tokenizer;
    }

    /// <summary>The checkpoint folder it was loaded from (null for a random model).</summary>
    public string? Folder { get; }

    /// <summary>The options it was loaded with.</summary>
    public JetModelOptions Options { get; }

    /// <summary>Shapes, layer map, parameter count and weight bytes.</summary>
    public JetModelInfo Info { get; }

    /// <summary>The checkpoint's tokenizer, or null when the folder has no tokenizer.json.</summary>
    public JetTokenizer? Tokenizer { get; }

    /// <summary>
    /// <paramref name="options"/> (or the defaults) made safe for this model: when its vocabulary
    /// (the LM head's rows) is padded beyond its tokenizer, <see cref="JetSamplingOptions.VocabLimit"/>
    /// becomes the tokenizer's size unless already set, so that no id without text is sampled.
    /// The session's generation and the CLI use it.
    /// </summary>
    public JetSamplingOptions SamplingFor(JetSamplingOptions? options = null) =>
        LimitToTokenizer(options ?? new JetSamplingOptions(), Info.VocabSize, Tokenizer?.VocabSize);

    internal static JetSamplingOptions LimitToTokenizer(JetSamplingOptions options, int modelVocab, int? tokenizerVocab) =>
        options.VocabLimit == 0 && tokenizerVocab is int n && n > 0 && n < modelVocab
            ? options with { VocabLimit = n }
            : options;

    /// <summary>
    /// Loads a Hugging Face checkpoint: a folder (config.json + safetensors), or a repo id such as
    /// "jet-ai/Jet-Nemotron-2B" already in the local Hugging Face cache (nothing is downloaded).
    /// Progress reports the load in [0, 1]. Throws JetException with the engine's message for a
    /// missing folder or a bad checkpoint, OperationCanceledException when cancelled.
    /// </summary>
    public static JetModel Load(string pathOrRepoId, JetModelOptions? options = null,
        IProgress<float>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(pathOrRepoId);
        options ??= new JetModelOptions();
        cancellationToken.ThrowIfCancellationRequested();
        JetNativeLibrary.EnsureLoaded();
        string folder = HuggingFaceCache.ResolveModelFolder(pathOrRepoId);

        var state = new CallbackState { Progress = progress, CancellationToken = cancellationToken };
        GCHandle gc = GCHandle.Alloc(state);
        JetModelHandle handle;
        try
        {
            NativeModelParams p = ToNative(options);
            unsafe
            {
                p.Progress = Callbacks.Progress;
                p.ProgressUserData = GCHandle.ToIntPtr(gc);
                JetStatus status = NativeMethods.jet_model_load(folder, &p, out handle);
                if (status != JetStatus.Ok)
                {
                    handle.Dispose();
                    string message = JetException.LastNativeError();
                    state.ThrowIfFailed();
                    if (status == JetStatus.Cancelled)
                        throw new OperationCanceledException(message, cancellationToken);
                    throw new JetException(status, message.Length > 0 ? message : $"cannot load {folder}");
                }
            }
        }
        finally
        {
            gc.Free();
        }

        try
        {
            JetTokenizer? tokenizer = File.Exists(Path.Combine(folder, "tokenizer.json"))
                ? JetTokenizer.FromFolder(folder)
                : null;
            return new JetModel(handle, Path.GetFullPath(folder), options, tokenizer);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary><see cref="Load"/> on the thread pool.</summary>
    public static Task<JetModel> LoadAsync(string pathOrRepoId, JetModelOptions? options = null,
        IProgress<float>? progress = null, CancellationToken cancellationToken = default) =>
        Task.Run(() => Load(pathOrRepoId, options, progress, cancellationToken), cancellationToken);

    /// <summary>
    /// A model with random weights built from the text of a config.json (validated as for a
    /// checkpoint); the same seed gives the same weights. For benchmarks; it has no tokenizer.
    /// </summary>
    public static unsafe JetModel CreateRandom(string configJson, ulong seed = 0, JetModelOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(configJson);
        options ??= new JetModelOptions();
        JetNativeLibrary.EnsureLoaded();
        NativeModelParams p = ToNative(options);
        JetStatus status = NativeMethods.jet_model_create_random(configJson, seed, &p, out JetModelHandle handle);
        if (status != JetStatus.Ok)
        {
            handle.Dispose();
            JetException.Check(status);
        }
        return new JetModel(handle, null, options, null);
    }

    /// <summary>
    /// Writes a Hugging Face checkpoint with random bf16 weights for <paramref name="configJson"/>
    /// into <paramref name="folder"/> (created if missing): config.json and model.safetensors, or
    /// safetensors shards of at most <paramref name="maxShardBytes"/> (0: 2 GiB) with
    /// model.safetensors.index.json. Loading it gives the model <see cref="CreateRandom"/> makes
    /// with the same seed. For tests and benchmarks of full-size models without a download (e.g.
    /// Jet-Nemotron-2B's config: 3.9 GB). Throws JetException for a bad
    /// config or a folder that cannot be written.
    /// </summary>
    public static void WriteRandomCheckpoint(string configJson, string folder, ulong seed = 0, long maxShardBytes = 0)
    {
        ArgumentNullException.ThrowIfNull(configJson);
        ArgumentException.ThrowIfNullOrWhiteSpace(folder);
        ArgumentOutOfRangeException.ThrowIfNegative(maxShardBytes);
        JetNativeLibrary.EnsureLoaded();
        JetException.Check(NativeMethods.jet_checkpoint_write_random(configJson, seed, folder, (ulong)maxShardBytes));
    }

    /// <summary>
    /// Writes a weight-only quantized copy of the checkpoint <paramref name="pathOrRepoId"/> (a folder,
    /// or a repo id in the local Hugging Face cache) into <paramref name="outputFolder"/>: every
    /// linear layer's weight as <paramref name="type"/> (<see cref="JetWeightDtype.Int8"/> or
    /// <see cref="JetWeightDtype.Fp8E4m3"/>) with a float scale per output channel
    /// (<paramref name="groupSize"/> 0) or per group of <paramref name="groupSize"/> inputs, the rest
    /// copied; config.json gains "quantization_config" and the tokenizer files are copied
    /// (docs/quantization.md). Throws ArgumentException for a bad type or group size, JetException
    /// with the engine's message for a bad checkpoint or a folder that cannot be written,
    /// OperationCanceledException when cancelled.
    /// </summary>
    public static void QuantizeCheckpoint(string pathOrRepoId, string outputFolder, JetWeightDtype type, int groupSize = 0,
        IProgress<float>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(pathOrRepoId);
        ArgumentException.ThrowIfNullOrWhiteSpace(outputFolder);
        if (type is not (JetWeightDtype.Int8 or JetWeightDtype.Fp8E4m3))
            throw new ArgumentOutOfRangeException(nameof(type), type, "the quantized types are Int8 and Fp8E4m3");
        ArgumentOutOfRangeException.ThrowIfNegative(groupSize);
        cancellationToken.ThrowIfCancellationRequested();
        JetNativeLibrary.EnsureLoaded();
        string folder = HuggingFaceCache.ResolveModelFolder(pathOrRepoId);
        var state = new CallbackState { Progress = progress, CancellationToken = cancellationToken };
        GCHandle gc = GCHandle.Alloc(state);
        try
        {
            unsafe
            {
                JetStatus status = NativeMethods.jet_checkpoint_quantize(folder, outputFolder, (int)type, groupSize,
                    Callbacks.Progress, GCHandle.ToIntPtr(gc));
                if (status == JetStatus.Ok) return;
                string message = JetException.LastNativeError();
                state.ThrowIfFailed();
                if (status == JetStatus.Cancelled)
                    throw new OperationCanceledException(message, cancellationToken);
                throw new JetException(status, message.Length > 0 ? message : $"cannot quantize {folder}");
            }
        }
        finally
        {
            gc.Free();
        }
    }

    private static unsafe NativeModelParams ToNative(JetModelOptions o)
    {
        if (o.Threads < 0)
            throw new ArgumentOutOfRangeException(nameof(o), o.Threads, "Threads must be >= 0 (0 = the physical cores)");
        NativeModelParams p;
        NativeMethods.jet_model_default_params(&p);
        p.Size = (uint)sizeof(NativeModelParams);
        p.Device = (int)o.Device;
        p.DeviceIndex = o.DeviceIndex;
        p.NThreads = o.Threads;
        return p;
    }

    private static unsafe JetModelInfo ReadInfo(JetModelHandle handle)
    {
        NativeModelInfo n = default;
        n.Size = (uint)sizeof(NativeModelInfo);
        JetException.Check(NativeMethods.jet_model_get_info(handle, &n));
        var layers = new JetLayerType[n.NumLayers];
        for (int i = 0; i < layers.Length; i++)
        {
            int type;
            JetException.Check(NativeMethods.jet_model_layer_type(handle, i, &type));
            layers[i] = (JetLayerType)type;
        }
        return JetModelInfo.FromNative(n, layers);
    }

    /// <summary>
    /// Cache bytes one sequence needs at <paramref name="context"/> tokens (attention KV, the capped
    /// sliding-window buffers, JetBlock conv and recurrent states), as the engine allocates them.
    /// </summary>
    public unsafe long CacheBytes(long context)
    {
        ThrowIfDisposed();
        long bytes;
        JetException.Check(NativeMethods.jet_model_cache_bytes(Handle, context, &bytes));
        return bytes;
    }

    /// <summary>A new session (its own cache) on this model.</summary>
    public JetSession CreateSession(JetSessionOptions? options = null)
    {
        ThrowIfDisposed();
        return new JetSession(this, options ?? new JetSessionOptions());
    }

    /// <summary>
    /// This model as a Microsoft.Extensions.AI chat client (ChatML template, one session per
    /// request). Needs the tokenizer.
    /// </summary>
    public IChatClient AsChatClient(JetSamplingOptions? defaults = null)
    {
        ThrowIfDisposed();
        return new JetChatClient(this, defaults);
    }

    /// <summary>
    /// Releases this reference to the native model; sessions still open keep it alive until they
    /// are disposed. Afterwards the model itself refuses new sessions (ObjectDisposedException).
    /// </summary>
    public void Dispose()
    {
        _disposed = true;
        Handle.Dispose();
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);
}
