using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Xunit;

namespace JetNative.Server.Tests.Support;

/// <summary>A real Kestrel <see cref="JetServer"/> on 127.0.0.1 (a free port) serving the demo model, and raw HTTP helpers.</summary>
internal sealed class TestServer : IAsyncDisposable
{
    public const string Key = "test-key";

    private TestServer(JetServer server)
    {
        Server = server;
        Http = new HttpClient { BaseAddress = server.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Key);
    }

    public JetServer Server { get; }
    public HttpClient Http { get; }
    public string BaseUrl => Server.BaseAddress.ToString().TrimEnd('/');

    /// <summary>Starts a server; <paramref name="configure"/> adjusts the options (demo model, port 0, key "test-key", context 512).</summary>
    public static async Task<TestServer> StartAsync(Func<JetServerOptions, JetServerOptions>? configure = null)
    {
        var options = new JetServerOptions
        {
            Model = ServerTestModels.Demo, Port = 0, ApiKey = Key, Context = 512, MaxSequences = 4, PrefillChunk = 64,
            MaxBodyBytes = 256 * 1024, DrainTimeout = TimeSpan.FromSeconds(20),
        };
        if (configure is not null) options = configure(options);
        return new TestServer(await JetServer.StartAsync(options, cancellationToken: TestContext.Current.CancellationToken));
    }

    /// <summary>POSTs a JSON body; returns the status and the parsed body (null when it is not JSON).</summary>
    public async Task<(int Status, JsonElement? Body, HttpResponseMessage Response)> PostAsync(string path, string json, CancellationToken ct = default)
    {
        HttpResponseMessage response = await Http.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"), ct);
        string text = await response.Content.ReadAsStringAsync(ct);
        JsonElement? body = null;
        try { body = JsonDocument.Parse(text).RootElement.Clone(); } catch (JsonException) { }
        return ((int)response.StatusCode, body, response);
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await Server.StopAsync();
    }
}
