using JetNative.Tokenization;
namespace JetNative.Cli;

/// <summary>Finds and loads the model a command names with <c>-m</c> (default: the embedded demo model).</summary>
internal static class ModelLoader
{
    /// <summary>The demo model copied next to the executable at build time.</summary>
    public static string DemoModelFolder => Path.Combine(AppContext.BaseDirectory, "models", "jetnative-demo");

    /// <summary>The folder or repo id to load, or a clear error when the demo model is missing.</summary>
    public static string Resolve(string? model)
    {
        if (!string.IsNullOrWhiteSpace(model))
        {
            if (File.Exists(model))
                throw new JetException(JetStatus.Io, $"'{model}' is a file: -m takes a checkpoint folder (config.json + *.safetensors) or a Hugging Face repo id");
            if (!Directory.Exists(model) && !HuggingFaceCache.LooksLikeRepoId(model))
                throw new JetException(JetStatus.Io, $"model folder not found: {Path.GetFullPath(model)}");
            return model;
        }
        if (!Directory.Exists(DemoModelFolder))
            throw new JetException(JetStatus.Io, $"the embedded demo model is missing (expected at {DemoModelFolder}); pass a model with -m FOLDER");
        return DemoModelFolder;
    }

    /// <summary>Loads the model, with a progress bar on stderr when it is a terminal.</summary>
    public static Task<JetModel> LoadAsync(CliConsole io, ModelArgs args, CancellationToken cancellationToken)
    {
        string source = Resolve(args.Model);
        return SpectreConsoles.WithProgressAsync(io, $"loading {DisplayName(source)}",
            progress => JetModel.LoadAsync(source, args.Options, progress, cancellationToken));
    }

    /// <summary>A short name for tables and logs: the folder's name, or the repo id.</summary>
    public static string DisplayName(string source)
    {
        if (!Directory.Exists(source)) return source;
        string name = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(source)));
        return name.Length > 0 ? name : source;
    }

    /// <summary>The model's tokenizer, or a clear error for a checkpoint without one.</summary>
    public static JetTokenizer RequireTokenizer(JetModel model) =>
        model.Tokenizer ?? throw new JetException(JetStatus.Format,
            model.Folder is null
                ? "the model has random weights and no tokenizer: this command needs text (use 'eval --input-ids' with token ids)"
                : $"{model.Folder} has no tokenizer (tokenizer.json), so this command cannot turn text into tokens: copy the checkpoint's " +
                  "tokenizer.json and tokenizer_config.json into that folder ('random-checkpoint' adds the demo's only for the demo's vocabulary), " +
                  "or use 'eval --input-ids' with token ids");

    /// <summary>
    /// The context a generating session gets: -c, or else the model's maximum capped at 4096
    /// (llama.cpp's default), so a long-context model does not allocate its full KV cache.
    /// </summary>
    public static int Context(JetModel model, int ctxSize) =>
        ctxSize > 0 ? ctxSize : Math.Min(model.Info.MaxPositionEmbeddings, 4096);

    /// <summary>
    /// Refuses a context beyond the model's max_position_embeddings unless --allow-long-context is
    /// given (then the engine logs a warning naming both numbers).
    /// </summary>
    public static void CheckContext(JetModel model, int context, bool allowLongContext)
    {
        int max = model.Info.MaxPositionEmbeddings;
        if (context > max && !allowLongContext)
            throw new UsageException($"-c/--ctx-size {context} is beyond the model's max_position_embeddings ({max}); " +
                                     "add --allow-long-context to run past the trained length anyway");
    }
}
