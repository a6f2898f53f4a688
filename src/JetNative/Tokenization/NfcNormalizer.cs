using System.Text;
using Microsoft.ML.Tokenizers;

namespace JetNative.Tokenization;

/// <summary>Unicode NFC normalisation, the <c>{"type": "NFC"}</c> normalizer of tokenizer.json.</summary>
internal sealed class NfcNormalizer : Normalizer
{
    public static readonly NfcNormalizer Instance = new();

    public override string Normalize(string original) =>
        original.IsNormalized(NormalizationForm.FormC) ? original : original.Normalize(NormalizationForm.FormC);

    public override string Normalize(ReadOnlySpan<char> original) => Normalize(original.ToString());
}
