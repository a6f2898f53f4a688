using System.Text;
using System.Text.RegularExpressions;
using JetNative.Interop;

namespace JetNative.Tokenization;

/// <summary>
/// The ChatML chat template written by hand (no Jinja engine): Qwen2.5's template without tools.
/// <c>&lt;|im_start|&gt;{role}\n{content}&lt;|im_end|&gt;\n</c> per message, a default system message
/// first when the template has one and the conversation does not start with a system message,
/// consecutive tool messages grouped into one user turn of &lt;tool_response&gt; blocks, then
/// <c>&lt;|im_start|&gt;assistant\n</c> when a generation prompt is asked for.
/// </summary>
internal sealed class ChatMlTemplate
{
    private const string Start = "<|im_start|>";
    private const string End = "<|im_end|>";

    // A literal such as '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' in the
    // Jinja source: the system message used when the conversation has none.
    private static readonly Regex DefaultSystemLiteral = new(
        @"<\|im_start\|>system\\n([^'""+{}]+?)<\|im_end\|>", RegexOptions.CultureInvariant);

    /// <summary>The system message added when the first message is not a system message, or null for none.</summary>
    public string? DefaultSystemMessage { get; }

    private ChatMlTemplate(string? defaultSystemMessage) => DefaultSystemMessage = defaultSystemMessage;

    /// <summary>
    /// The ChatML renderer for <paramref name="template"/> (the checkpoint's Jinja source, or null when
    /// it has none: plain ChatML). Throws JetException (JET_ERR_UNSUPPORTED) for a template that is not ChatML.
    /// </summary>
    public static ChatMlTemplate For(string? template)
    {
        if (template is null)
            return new ChatMlTemplate(null);
        if (!template.Contains(Start, StringComparison.Ordinal) || !template.Contains(End, StringComparison.Ordinal))
            throw new JetException(JetStatus.Unsupported, "the checkpoint's chat template is not ChatML (no <|im_start|>/<|im_end|>); only ChatML is supported");
        var match = DefaultSystemLiteral.Match(template);
        return new ChatMlTemplate(match.Success ? Regex.Unescape(match.Groups[1].Value) : null);
    }

    public string Apply(IEnumerable<(string Role, string Content)> messages, bool addGenerationPrompt)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var list = messages.ToList();
        var text = new StringBuilder();
        for (int i = 0; i < list.Count; i++)
        {
            var (role, content) = list[i];
            if (role is null || content is null)
                throw TokenizerErrors.BadArgument(nameof(messages), $"message {i} has a null role or content");
            switch (role)
            {
                case "system" or "user" or "assistant":
                    if (i == 0 && role != "system" && DefaultSystemMessage is not null)
                        Turn(text, "system", DefaultSystemMessage);
                    Turn(text, role, content);
                    break;
                case "tool":
                    if (i == 0 && DefaultSystemMessage is not null)
                        Turn(text, "system", DefaultSystemMessage);
                    if (i == 0 || list[i - 1].Role != "tool")
                        text.Append(Start).Append("user");
                    text.Append("\n<tool_response>\n").Append(content).Append("\n</tool_response>");
                    if (i == list.Count - 1 || list[i + 1].Role != "tool")
                        text.Append(End).Append('\n');
                    break;
                default:
                    throw TokenizerErrors.BadArgument(nameof(messages),
                        $"message {i} has role \"{role}\"; ChatML roles are system, user, assistant and tool");
            }
        }
        if (list.Count == 0 && DefaultSystemMessage is not null)
            Turn(text, "system", DefaultSystemMessage);
        if (addGenerationPrompt)
            text.Append(Start).Append("assistant\n");
        return text.ToString();
    }

    private static void Turn(StringBuilder text, string role, string content) =>
        text.Append(Start).Append(role).Append('\n').Append(content).Append(End).Append('\n');
}
