using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace JetNative.Gateway;

/// <summary>
/// Writes OpenAI-shaped error responses, <c>{"error": {"message", "type", "param", "code"}}</c>, so
/// that an OpenAI client reports what went wrong in the gateway as it reports a server's errors.
/// </summary>
public static class OpenAiError
{
    /// <summary>Writes the error as the response (status, JSON body); the response must not have started.</summary>
    public static Task WriteAsync(HttpContext context, int status, string message, string type, string code)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        var body = new { error = new { message, type, param = (string?)null, code } };
        return context.Response.WriteAsync(JsonSerializer.Serialize(body), context.RequestAborted);
    }
}
