using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace JetNative.Server.Api;

/// <summary>
/// A failure the client sees as an OpenAI-shaped error:
/// <c>{"error":{"message","type","param","code"}}</c> with <see cref="StatusCode"/>.
/// </summary>
public sealed class ApiException(int statusCode, string message, string type, string? code = null, string? param = null)
    : Exception(message)
{
    /// <summary>The HTTP status.</summary>
    public int StatusCode { get; } = statusCode;

    /// <summary>OpenAI's error type, e.g. invalid_request_error.</summary>
    public string Type { get; } = type;

    /// <summary>A machine-readable code, e.g. model_not_found.</summary>
    public string? Code { get; } = code;

    /// <summary>The request field at fault.</summary>
    public string? Param { get; } = param;

    /// <summary>Seconds the client should wait (429, 503), sent as Retry-After.</summary>
    public int? RetryAfterSeconds { get; init; }

    /// <summary>400 invalid_request_error for <paramref name="param"/>.</summary>
    public static ApiException BadRequest(string message, string? param = null, string? code = null) =>
        new(StatusCodes.Status400BadRequest, message, "invalid_request_error", code, param);

    /// <summary>The JSON body.</summary>
    public JsonObject ToJson() => new()
    {
        ["error"] = new JsonObject
        {
            ["message"] = Message,
            ["type"] = Type,
            ["param"] = Param,
            ["code"] = Code,
        },
    };

    /// <summary>Writes the error as the response.</summary>
    public async Task WriteAsync(HttpContext context)
    {
        context.Response.StatusCode = StatusCode;
        if (RetryAfterSeconds is int seconds)
            context.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(ToJson().ToJsonString(CompletionResponses.Json), context.RequestAborted).ConfigureAwait(false);
    }
}
