using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace JetNative.Gateway;

/// <summary>
/// Requires <c>Authorization: Bearer KEY</c> on every request under <c>/v1/</c> (as OpenAI does);
/// <c>/health</c> and the chat page stay open. The header is passed on to the replica unchanged.
/// </summary>
internal sealed class ApiKeyCheck(string apiKey)
{
    private readonly byte[] _expected = Encoding.UTF8.GetBytes(apiKey);

    public async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        if (context.Request.Path.StartsWithSegments("/v1") && !Authorized(context.Request.Headers.Authorization.ToString()))
        {
            context.Response.Headers.WWWAuthenticate = "Bearer";
            await OpenAiError.WriteAsync(context, StatusCodes.Status401Unauthorized,
                "invalid or missing API key: send 'Authorization: Bearer <key>'", "invalid_request_error", "invalid_api_key");
            return;
        }
        await next(context);
    }

    private bool Authorized(string header)
    {
        const string prefix = "Bearer ";
        if (!header.StartsWith(prefix, StringComparison.OrdinalIgnoreCase)) return false;
        byte[] given = Encoding.UTF8.GetBytes(header[prefix.Length..].Trim());
        return CryptographicOperations.FixedTimeEquals(given, _expected);
    }
}
