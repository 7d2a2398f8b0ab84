"""Mistakes in transformer.py (Problem 3(b)): positional encoding, the encoder layer and the model."""

from __future__ import annotations

from grading.mutants import Mutant

PE, ENC, MODEL = "positional_encoding", "TransformerEncoder.forward", "Transformer.forward"
ATT = "x = self.norm_1(x + self.attention(x, key_padding_mask))"
FFN = "x = self.norm_2(x + self.feed_forward(x))"

MUTANTS: list[Mutant] = [
    Mutant("transformer.attention_residual_missing", ENC, ATT, "x = self.norm_1(self.attention(x, key_padding_mask))",
           "no residual connection around the attention",
           breaks="every encoder output is wrong (the block's structure), so every encoder and model test"),
    Mutant("transformer.ffn_residual_missing", ENC, FFN, "x = self.norm_2(self.feed_forward(x))",
           "no residual connection around the feed-forward network",
           breaks="every encoder output is wrong (the block's structure), so every encoder and model test"),
    Mutant("transformer.pre_norm", ENC, f"""\
        {ATT}
        {FFN}
""", """\
        x = x + self.attention(self.norm_1(x), key_padding_mask)
        x = x + self.feed_forward(self.norm_2(x))
""", "LayerNorm before each sub-layer (pre-norm) instead of after the residual (post-norm)",
           breaks="every encoder output is wrong (the block's structure), so every encoder and model test"),
    Mutant("transformer.norm_without_residual_input", ENC, ATT,
           "x = x + self.norm_1(self.attention(x, key_padding_mask))",
           "the LayerNorm applied to the sub-layer's output only, before the residual sum",
           breaks="every encoder output is wrong (the block's structure), so every encoder and model test"),
    Mutant("transformer.mask_not_passed", ENC, ATT, "x = self.norm_1(x + self.attention(x))",
           "the key-padding mask is not passed to the attention"),
    Mutant("transformer.sin_cos_swapped", PE, """\
    pe[:, 0::2] = torch.sin(angles)
    pe[:, 1::2] = torch.cos(angles[:, : d_model // 2])
""", """\
    pe[:, 0::2] = torch.cos(angles)
    pe[:, 1::2] = torch.sin(angles[:, : d_model // 2])
""", "cosines in the even columns and sines in the odd ones",
           breaks="every positional-encoding value and every Transformer output is wrong"),
    Mutant("transformer.pe_exponent_i_not_2i", PE, "angles = pos / 10000.0 ** (two_i / d_model)",
           "angles = pos / 10000.0 ** (two_i / 2 / d_model)",
           "10000^(i / d_model) instead of 10000^(2i / d_model)",
           breaks="every positional-encoding value and every Transformer output is wrong"),
    Mutant("transformer.pe_odd_d_model", PE, "pe[:, 1::2] = torch.cos(angles[:, : d_model // 2])",
           "pe[:, 1::2] = torch.cos(angles)", "an odd d_model breaks the table (one cosine column too many)"),
    Mutant("transformer.positional_encoding_not_added", MODEL,
           "x = self.positional_encoding(self.embedding(tokens))", "x = self.embedding(tokens)",
           "the positional encoding is never added"),
    Mutant("transformer.embedding_scaled", MODEL, "x = self.positional_encoding(self.embedding(tokens))",
           "x = self.positional_encoding(self.embedding(tokens) * self.embedding.embedding_dim**0.5)",
           "embeddings scaled by sqrt(d_model) as in the paper, which this model must not do"),
    Mutant("transformer.pad_mask_inverted", MODEL, "key_padding_mask = tokens == 0  # (B, T), True = PAD",
           "key_padding_mask = tokens != 0", "the mask is True at the real tokens instead of at PAD"),
    Mutant("transformer.pad_mask_missing", MODEL, "return self.encoder(x, key_padding_mask)",
           "return self.encoder(x)", "PAD tokens not masked"),
    # what the dtype, device and twice-in-a-row tests target (issue #15)
    Mutant("transformer.pe_float64_always", PE, "    return pe.to(torch.get_default_dtype())\n", "    return pe\n",
           "the table built in float64 and returned as it is: a float32 model's activations become float64"),
    Mutant("transformer.pe_recomputed_in_forward", MODEL,
           "x = self.positional_encoding(self.embedding(tokens))",
           "x = self.embedding(tokens) + positional_encoding(tokens.shape[1], self.embedding.embedding_dim)",
           "the table recomputed in forward with positional_encoding(T, d): in the default dtype, on the CPU"),
    Mutant("transformer.pad_mask_from_arange_on_cpu", MODEL, """\
        key_padding_mask = tokens == 0  # (B, T), True = PAD
""", """\
        n_pad = (tokens == 0).sum(dim=1, keepdim=True)  # left padding: the first n_pad positions of each row
        key_padding_mask = torch.arange(tokens.shape[1]) < n_pad  # (B, T), True = PAD
""", "the padding mask made with torch.arange(T) on the CPU: fails when the model is on a GPU"),
    Mutant("transformer.positions_cached", MODEL, """\
        x = self.positional_encoding(self.embedding(tokens))  # (B, T, d_model)
""", """\
        if not hasattr(self, "positions"):
            self.positions = self.positional_encoding.pe[: tokens.shape[1]]  # PE[:T], computed once
        x = self.embedding(tokens) + self.positions  # (B, T, d_model)
""", "PE[:T] of the first batch kept on self and added to every later batch"),
]
