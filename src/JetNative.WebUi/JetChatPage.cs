using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace JetNative.WebUi;

/// <summary>
/// The chat page (one self-contained HTML file embedded in this assembly): a prompt box that streams
/// answers from <c>POST /v1/chat/completions</c>, a model picker fed by <c>GET /v1/models</c>, an
/// API-key field, Stop, time to first token and tok/s. It talks only to its own origin, so any
/// server that maps it next to those two endpoints (or a gateway in front of such servers) works.
/// </summary>
public static class JetChatPage
{
    private const string ResourceName = "JetNative.WebUi.index.html";
    private static readonly Lazy<byte[]> Html = new(Load);

    /// <summary>The page's HTML, UTF-8.</summary>
    public static ReadOnlyMemory<byte> Content => Html.Value;

    /// <summary>Serves the chat page at <c>GET /</c> (and <c>/index.html</c>).</summary>
    /// <returns>The endpoints, to add metadata (e.g. authorization) to both.</returns>
    public static IEndpointConventionBuilder MapJetChatPage(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        RouteGroupBuilder group = endpoints.MapGroup("");
        group.MapGet("/", Serve);
        group.MapGet("/index.html", Serve);
        return group;
    }

    private static IResult Serve(HttpContext context)
    {
        context.Response.Headers.CacheControl = "no-cache";
        context.Response.Headers.XContentTypeOptions = "nosniff";
        return Results.Bytes(Html.Value, "text/html; charset=utf-8");
    }

    private static byte[] Load()
    {
        using Stream stream = typeof(JetChatPage).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"the chat page resource '{ResourceName}' is missing from {typeof(JetChatPage).Assembly.GetName().Name}");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
