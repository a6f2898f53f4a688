using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using JetNative.Server.Api;
using JetNative.Server.Engine;
using JetNative.Server.Scheduling;
using JetNative.Tokenization;
using JetNative.WebUi;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Prometheus;

namespace JetNative.Server;

/// <summary>
/// <c>jetnative serve</c>: an OpenAI-compatible HTTP server (Kestrel) over one or more engines,
/// each a <see cref="JetSession"/> with N slots driven by a <see cref="BatchScheduler"/>, requests
/// routed to the least-loaded. Start it with <see cref="StartAsync"/>; stopping drains it: new
/// requests get 503, in-flight ones finish (up to <see cref="JetServerOptions.DrainTimeout"/>).
/// </summary>
public sealed class JetServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly List<JetModel> _ownedModels;
    private volatile bool _draining;
    private int _stopped;

    private JetServer(JetServerOptions options, WebApplication app, EngineRouter router, ServerMetrics metrics,
        JetTokenizer tokenizer, string modelId, int vocabSize, List<JetModel> ownedModels)
    {
        Options = options;
        _app = app;
        Router = router;
        Metrics = metrics;
        Tokenizer = tokenizer;
        ModelId = modelId;
        VocabSize = vocabSize;
        _ownedModels = ownedModels;
    }

    /// <summary>The options it runs with.</summary>
    public JetServerOptions Options { get; }

    /// <summary>The engines' schedulers and the router over them.</summary>
    public EngineRouter Router { get; }

    /// <summary>The Prometheus metrics GET /metrics exports.</summary>
    public ServerMetrics Metrics { get; }

    /// <summary>The served model's tokenizer.</summary>
    public JetTokenizer Tokenizer { get; }

    /// <summary>The model id of /v1/models.</summary>
    public string ModelId { get; }

    /// <summary>The model's vocabulary (token ids in prompts must be below it).</summary>
    public int VocabSize { get; }

    /// <summary>True once a shutdown has begun (new requests get 503).</summary>
    public bool IsDraining => _draining;

    /// <summary>Where it listens, e.g. http://127.0.0.1:8080 (the actual port when 0 was asked).</summary>
    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>Loads the model (unless given), creates the engines and starts listening.</summary>
    public static async Task<JetServer> StartAsync(JetServerOptions options, Action<ILoggingBuilder>? logging = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var owned = new List<JetModel>();
        var schedulers = new List<BatchScheduler>();
        var metrics = new ServerMetrics();
        try
        {
            List<(JetModel Model, string Name)> engines = await LoadEnginesAsync(options, owned, cancellationToken).ConfigureAwait(false);
            JetModel first = engines[0].Model;
            JetTokenizer tokenizer = first.Tokenizer ?? throw new JetException(JetStatus.Format,
                $"{first.Folder ?? "the model"} has no tokenizer.json: the server needs one");
            int context = options.Context > 0 ? options.Context : Math.Min(first.Info.MaxPositionEmbeddings, 4096);
            var schedulerOptions = new SchedulerOptions
            {
                Slots = options.MaxSequences, PrefixSlots = options.PrefixSlots,
                MinPrefixTokens = options.MinPrefixTokens, MaxQueue = options.MaxQueue,
            };
            foreach ((JetModel model, string name) in engines)
            {
                JetSession session = model.CreateSession(new JetSessionOptions
                {
                    Sequences = options.MaxSequences + options.PrefixSlots, Context = context, PrefillChunk = options.PrefillChunk,
                    AllowLongContext = options.AllowLongContext,
                });
                schedulers.Add(new BatchScheduler(new JetSessionEngine(session, options.PrefillChunk), tokenizer, schedulerOptions, metrics, name));
            }
            var router = new EngineRouter(schedulers);
            string modelId = options.ModelId ?? ModelName(first.Folder ?? options.ModelPath ?? "jetnative");
            WebApplication app = Build(options, logging);
            var server = new JetServer(options, app, router, metrics, tokenizer, modelId, first.Info.VocabSize, owned);
            server.MapRoutes();
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
            string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            server.BaseAddress = new Uri(address.Replace("[::]", "localhost", StringComparison.Ordinal));
            return server;
        }
        catch
        {
            foreach (BatchScheduler s in schedulers) s.Dispose();
            foreach (JetModel m in owned) m.Dispose();
            throw;
        }
    }

    /// <summary>Completes when the host stops (e.g. SIGTERM, or <see cref="StopAsync"/>).</summary>
    public Task WaitForShutdownAsync(CancellationToken cancellationToken = default) => _app.WaitForShutdownAsync(cancellationToken);

    /// <summary>Drains (new requests 503, in-flight ones finish), then stops listening and frees the engines.</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0) return;
        try
        {
            await DrainAsync().ConfigureAwait(false);
            await _app.StopAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            await _app.DisposeAsync().ConfigureAwait(false);
            Router.Dispose();
            foreach (JetModel m in _ownedModels) m.Dispose();
        }
    }

    /// <summary>Same as <see cref="StopAsync"/>.</summary>
    public async ValueTask DisposeAsync() => await StopAsync().ConfigureAwait(false);

    /// <summary>
    /// New requests get 503 from now on (the server still listens); waits (up to the drain
    /// timeout) until the in-flight ones are done.
    /// </summary>
    public async Task DrainAsync()
    {
        _draining = true;
        Router.BeginDrain();
        try
        {
            await Router.WaitIdleAsync().WaitAsync(Options.DrainTimeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
        }
    }

    // ---------------------------------------------------------------- setup

    private static async Task<List<(JetModel, string)>> LoadEnginesAsync(JetServerOptions o, List<JetModel> owned, CancellationToken ct)
    {
        var engines = new List<(JetModel, string)>();
        if (o.Model is not null)
        {
            for (int i = 0; i < o.CpuEngines; i++) engines.Add((o.Model, i.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            return engines;
        }
        if (o.Device == JetDevice.Cpu)
        {
            JetModel m = await JetModel.LoadAsync(o.ModelPath!, new JetModelOptions { Threads = o.Threads }, null, ct).ConfigureAwait(false);
            owned.Add(m);
            for (int i = 0; i < o.CpuEngines; i++) engines.Add((m, $"cpu{i}"));
            return engines;
        }
        foreach (int device in o.CudaDevices.Count > 0 ? o.CudaDevices : [0])
        {
            JetModel m = await JetModel.LoadAsync(o.ModelPath!,
                new JetModelOptions { Device = JetDevice.Cuda, DeviceIndex = device, Threads = o.Threads }, null, ct).ConfigureAwait(false);
            owned.Add(m);
            engines.Add((m, $"cuda{device}"));
        }
        return engines;
    }

    private static string ModelName(string source)
    {
        if (!Directory.Exists(source)) return source;
        string name = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(source)));
        return name.Length > 0 ? name : source;
    }

    private static WebApplication Build(JetServerOptions options, Action<ILoggingBuilder>? logging)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            Args = [], ContentRootPath = AppContext.BaseDirectory, EnvironmentName = Environments.Production,
        });
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        logging?.Invoke(builder.Logging);
        builder.Services.Configure<HostOptions>(h => h.ShutdownTimeout = options.DrainTimeout + TimeSpan.FromSeconds(5));
        builder.Services.Configure<ConsoleLifetimeOptions>(c => c.SuppressStatusMessages = true);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = options.MaxBodyBytes;
            if (options.Host == "localhost") k.ListenLocalhost(options.Port);
            else k.Listen(IPAddress.Parse(options.Host), options.Port);
        });
        return builder.Build();
    }

    private void MapRoutes()
    {
        WebApplication app = _app;
        // A stop from the host itself (SIGTERM): in-flight requests finish before Kestrel goes.
        app.Lifetime.ApplicationStopping.Register(() =>
        {
            if (!_draining) DrainAsync().GetAwaiter().GetResult();
        });
        app.Use(async (context, next) =>
        {
            try
            {
                if (RequiresKey(context) && !KeyMatches(context))
                {
                    throw new ApiException(StatusCodes.Status401Unauthorized,
                        "Incorrect API key provided: send it as 'Authorization: Bearer KEY'", "invalid_request_error", "invalid_api_key");
                }
                await next(context).ConfigureAwait(false);
            }
            catch (ApiException e) when (!context.Response.HasStarted)
            {
                await e.WriteAsync(context).ConfigureAwait(false);
            }
            catch (Exception e) when (!context.Response.HasStarted && !context.RequestAborted.IsCancellationRequested
                                      && e is not OperationCanceledException)
            {
                await new ApiException(StatusCodes.Status500InternalServerError, $"Internal error: {e.Message}", "server_error")
                    .WriteAsync(context).ConfigureAwait(false);
            }
            finally
            {
                Metrics.Requests.WithLabels(context.Response.StatusCode.ToString(System.Globalization.CultureInfo.InvariantCulture)).Inc();
            }
        });

        var completions = new CompletionEndpoints(this);
        app.MapPost("/v1/chat/completions", (Func<HttpContext, Task<IResult>>)(c => completions.HandleAsync(c, chat: true)));
        app.MapPost("/v1/completions", (Func<HttpContext, Task<IResult>>)(c => completions.HandleAsync(c, chat: false)));
        app.MapGet("/v1/models", () => Results.Content(new JsonObject
        {
            ["object"] = "list",
            ["data"] = new JsonArray(ModelJson()),
        }.ToJsonString(CompletionResponses.Json), "application/json"));
        app.MapGet("/v1/models/{id}", (string id) => id == ModelId
            ? Results.Content(ModelJson().ToJsonString(CompletionResponses.Json), "application/json")
            : throw new ApiException(StatusCodes.Status404NotFound, $"The model '{id}' does not exist", "invalid_request_error", "model_not_found", "model"));
        app.MapGet("/health", () => Results.Content(HealthJson().ToJsonString(CompletionResponses.Json), "application/json",
            statusCode: _draining ? StatusCodes.Status503ServiceUnavailable : StatusCodes.Status200OK));
        app.MapMetrics("/metrics", Metrics.Registry);
        app.MapJetChatPage();  // the chat page at "/" (src/JetNative.WebUi)
        app.MapFallback((HttpContext c) => Results.Content(new ApiException(StatusCodes.Status404NotFound,
            $"Unknown route: {c.Request.Method} {c.Request.Path}", "invalid_request_error", "not_found").ToJson().ToJsonString(CompletionResponses.Json),
            "application/json", statusCode: StatusCodes.Status404NotFound));
    }

    private JsonObject ModelJson() => new()
    {
        ["id"] = ModelId,
        ["object"] = "model",
        ["created"] = 0,
        ["owned_by"] = "jetnative",
        ["max_model_len"] = Router.Context,
    };

    private JsonObject HealthJson()
    {
        var engines = new JsonArray();
        foreach (BatchScheduler s in Router.Schedulers)
        {
            engines.Add(new JsonObject
            {
                ["slots"] = s.Options.Slots,
                ["busy_slots"] = s.BusySlots,
                ["queue_depth"] = s.QueueDepth,
                ["prefilled_tokens"] = s.PrefilledTokens,
                ["prefix_reused_tokens"] = s.ReusedPrefixTokens,
            });
        }
        return new JsonObject
        {
            ["status"] = _draining ? "draining" : "ok",
            ["model"] = ModelId,
            ["engines"] = engines,
        };
    }

    private bool RequiresKey(HttpContext context) =>
        Options.ApiKey is { Length: > 0 } && context.Request.Path.StartsWithSegments("/v1", StringComparison.Ordinal);

    private bool KeyMatches(HttpContext context)
    {
        string header = context.Request.Headers.Authorization.ToString();
        const string prefix = "Bearer ";
        if (!header.StartsWith(prefix, StringComparison.OrdinalIgnoreCase)) return false;
        byte[] given = Encoding.UTF8.GetBytes(header[prefix.Length..].Trim());
        byte[] expected = Encoding.UTF8.GetBytes(Options.ApiKey!);
        return CryptographicOperations.FixedTimeEquals(given, expected);
    }
}
