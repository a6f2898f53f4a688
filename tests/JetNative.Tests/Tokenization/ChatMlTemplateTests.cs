using JetNative.Interop;
using JetNative.Tokenization;
using Xunit;

namespace JetNative.Tests.Tokenization;

public class ChatMlTemplateTests
{
    private const string QwenLikeTemplate =
        "{%- if messages[0]['role'] == 'system' %}{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}" +
        "{%- else %}{{- '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{%- endif %}";

    [Fact]
    public void PlainChatMl_NoDefaultSystem()
    {
        var chat = ChatMlTemplate.For(null);
        Assert.Null(chat.DefaultSystemMessage);
        Assert.Equal("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\nyo<|im_end|>\n<|im_start|>assistant\n",
            chat.Apply([("user", "hi"), ("assistant", "yo")], addGenerationPrompt: true));
    }

    [Fact]
    public void DefaultSystemMessage_IsReadFromTheTemplate()
    {
        var chat = ChatMlTemplate.For(QwenLikeTemplate);
        Assert.Equal("You are a helpful assistant.", chat.DefaultSystemMessage);
        Assert.Equal("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n",
            chat.Apply([("user", "hi")], addGenerationPrompt: false));
    }

    [Fact]
    public void LaterSystemMessages_AreOrdinaryTurns()
    {
        var chat = ChatMlTemplate.For(QwenLikeTemplate);
        Assert.Equal(
            "<|im_start|>system\nA<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>system\nB<|im_end|>\n",
            chat.Apply([("system", "A"), ("user", "hi"), ("system", "B")], addGenerationPrompt: false));
    }

    [Fact]
    public void ConsecutiveToolMessages_ShareOneUserTurn()
    {
        var chat = ChatMlTemplate.For(null);
        Assert.Equal(
            "<|im_start|>assistant\ncall<|im_end|>\n" +
            "<|im_start|>user\n<tool_response>\nr1\n</tool_response>\n<tool_response>\nr2\n</tool_response><|im_end|>\n" +
            "<|im_start|>assistant\n",
            chat.Apply([("assistant", "call"), ("tool", "r1"), ("tool", "r2")], addGenerationPrompt: true));
    }

    [Fact]
    public void ContentIsCopiedVerbatim()
    {
        var chat = ChatMlTemplate.For(null);
        Assert.Equal("<|im_start|>user\n  a\n\nb {{ x }} 🙂 <|im_end|>\n",
            chat.Apply([("user", "  a\n\nb {{ x }} 🙂 ")], addGenerationPrompt: false));
    }

    [Fact]
    public void UnknownRole_Throws()
    {
        var e = Assert.Throws<JetException>(() => ChatMlTemplate.For(null).Apply([("user", "a"), ("bot", "b")], true));
        Assert.Equal(JetStatus.InvalidArgument, e.Status);
        Assert.Contains("message 1 has role \"bot\"", e.Message);
    }

    [Fact]
    public void NullContent_Throws()
    {
        Assert.Equal(JetStatus.InvalidArgument,
            Assert.Throws<JetException>(() => ChatMlTemplate.For(null).Apply([("user", null!)], true)).Status);
    }

    [Fact]
    public void NonChatMlTemplate_NotSupported()
    {
        Assert.Equal(JetStatus.Unsupported,
            Assert.Throws<JetException>(() => ChatMlTemplate.For("{{ bos_token }}[INST] {{ m }} [/INST]")).Status);
    }
}
