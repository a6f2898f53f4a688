namespace JetNative.Search.Accounting;

/// <summary>
/// The config.json of the released Jet-Nemotron models (docs/model.md section 2, from the official
/// checkpoints), for cache accounting and architecture search without a download.
/// </summary>
public static class JetNemotronConfigs
{
    /// <summary>Jet-Nemotron-2B: 28 layers (attn at 14, 19; swa at 20, 21; the rest JetBlocks of 12 heads, dK 96, dV 256).</summary>
    public const string Jet2B = """
{
  "architectures": [
    "JetNemotronForCausalLM"
  ],
  "model_type": "jet_nemotron",
  "hidden_size": 1536,
  "num_hidden_layers": 28,
  "layer_types": [
    "jet",
    "jet",
    "jet",
    "jet",
    "jet",
    "jet",
    "jet",
    "jet",
    "jet",
    "jet",
    "jet",
    "jet",
    "jet",
    "jet",
    "attn",
    "jet",
    "jet",
    "jet",
    "jet",
    "attn",
    "swa",
    "swa",
    "jet",
    "jet",
    "jet",
    "jet",
    "jet",
    "jet"
  ],
  "num_attention_heads": 12,
  "num_key_value_heads": 2,
  "intermediate_size": 8960,
  "vocab_size": 151936,
  "rms_norm_eps": 1e-06,
  "rope_theta": 1000000.0,
  "rope_scaling": null,
  "max_position_embeddings": 131072,
  "tie_word_embeddings": true,
  "hidden_act": "silu",
  "bos_token_id": 151643,
  "eos_token_id": 151643,
  "torch_dtype": "bfloat16",
  "efficient_attention_config": {
    "jet": {
      "mode": "chunk",
      "num_heads": 12,
      "head_dim": 96,
      "expand_v": 2.6666666667,
      "conv_size": 4,
      "dconv_generator_reduction": 8,
      "dconv_implementation": "triton",
      "norm_eps": "1e-5"
    },
    "swa": {
      "window_size": 1152
    }
  }
}
""";

    /// <summary>Jet-Nemotron-4B: 36 layers (attn at 17, 20, 32; swa at 5, 16, 19, 21, 22, 25, 27; JetBlocks of 16 heads, dK 128, dV 256).</summary>
    public const string Jet4B = """
{
  "architectures": [
    "JetNemotronForCausalLM"
  ],
  "model_type": "jet_nemotron",
  "hidden_size": 2048,
  "num_hidden_layers": 36,
  "layer_types": [
    "jet",
    "jet",
    "jet",
    "jet",
    "jet",
    "swa",
    "jet",
    "jet",
    "jet",
    "jet",
    "jet",
    "jet",
    "jet",
    "jet",
    "jet",
    "jet",
    "swa",
    "attn",
    "jet",
    "swa",
    "attn",
    "swa",
    "swa",
    "jet",
    "jet",
    "swa",
    "jet",
    "swa",
    "jet",
    "jet",
    "jet",
    "jet",
    "attn",
    "jet",
    "jet",
    "jet"
  ],
  "num_attention_heads": 16,
  "num_key_value_heads": 2,
  "intermediate_size": 11008,
  "vocab_size": 151936,
  "rms_norm_eps": 1e-06,
  "rope_theta": 1000000.0,
  "rope_scaling": null,
  "max_position_embeddings": 32768,
  "tie_word_embeddings": true,
  "hidden_act": "silu",
  "bos_token_id": 151643,
  "eos_token_id": 151643,
  "torch_dtype": "bfloat16",
  "efficient_attention_config": {
    "jet": {
      "mode": "chunk",
      "num_heads": 16,
      "head_dim": 128,
      "expand_v": 2,
      "conv_size": 4,
      "dconv_generator_reduction": 8,
      "dconv_implementation": "triton",
      "norm_eps": "1e-5"
    },
    "swa": {
      "window_size": 2048
    }
  }
}
""";

    /// <summary>The built-in config called <paramref name="name"/> ("2b" or "4b", any case), or null.</summary>
    public static string? Named(string name) => name.Trim().ToLowerInvariant() switch
    {
        "2b" or "jet-nemotron-2b" => Jet2B,
        "4b" or "jet-nemotron-4b" => Jet4B,
        _ => null,
    };
}
