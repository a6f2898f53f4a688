namespace JetNative;

/// <summary>Why a generation ended (<see cref="JetGeneration.FinishReason"/>).</summary>
public enum JetFinishReason
{
    /// <summary>A stop token (the end-of-sequence token, or one of the options' stop tokens) or a stop string.</summary>
    Stop,

    /// <summary>The length limit: <see cref="JetGenerationOptions.MaxTokens"/>, or the end of the sequence's context.</summary>
    Length,

    /// <summary>Cancelled (a cancellation token, or the consumer stopped reading).</summary>
    Cancelled,
}
