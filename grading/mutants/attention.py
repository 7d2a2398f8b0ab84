"""Mistakes in attention.py (Problem 3(a)iv): scaled dot-product and multi-head self-attention."""

from __future__ import annotations

from grading.mutants import Mutant

SDPA, SELF, MHA = "scaled_dot_product_attention", "SelfAttention.forward", "MultiHeadAttention.forward"
SCORES = "scores = (Q / d_k**0.5) @ K.transpose(-2, -1)"

MUTANTS: list[Mutant] = [
    Mutant("attention.no_scaling", SDPA, SCORES, "scores = Q @ K.transpose(-2, -1)",
           "scores not scaled by 1/sqrt(d_k)",
           breaks="every attention output and gradient is wrong: the attention weights themselves are wrong (each robustness test still compares values)"),
    Mutant("attention.scale_by_d_k", SDPA, SCORES, "scores = (Q / d_k) @ K.transpose(-2, -1)",
           "scores divided by d_k instead of sqrt(d_k)",
           breaks="every attention output and gradient is wrong: the attention weights themselves are wrong (each robustness test still compares values)"),
    Mutant("attention.softmax_over_queries", SDPA, "weights = torch.softmax(scores, dim=-1)",
           "weights = torch.softmax(scores, dim=-2)",
           "softmax over the queries (dim=-2) instead of the keys",
           breaks="every attention output and gradient is wrong: the attention weights themselves are wrong (each robustness test still compares values)"),
    Mutant("attention.mask_ignored", SDPA, """\
        scores = scores.masked_fill(mask, torch.finfo(scores.dtype).min)
""", "", "the padding mask is never applied to the scores"),
    Mutant("attention.mask_on_queries", SDPA,
           "mask = key_padding_mask.view(key_padding_mask.shape[0], *([1] * (scores.dim() - 2)), -1)",
           "mask = key_padding_mask.view(key_padding_mask.shape[0], *([1] * (scores.dim() - 3)), -1, 1)",
           "the mask broadcast over the keys instead of the queries: padded QUERIES are masked"),
    Mutant("attention.mask_with_minus_inf", SDPA, """\
        scores = scores.masked_fill(mask, torch.finfo(scores.dtype).min)
    weights = torch.softmax(scores, dim=-1)  # exactly 0 on padded keys (exp underflows)
    output = weights @ V  # (..., T_query, d_v)
    if key_padding_mask is not None:
        output = output.masked_fill(mask.all(dim=-1, keepdim=True), 0.0)  # sequences with no real key
""", """\
        scores = scores.masked_fill(mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    output = weights @ V
""", "masking with -inf and nothing else: a fully padded sequence gives NaN"),
    Mutant("attention.padded_rows_not_zeroed", SDPA, """\
    if key_padding_mask is not None:
        output = output.masked_fill(mask.all(dim=-1, keepdim=True), 0.0)  # sequences with no real key
""", "", "output of a fully padded sequence not zeroed: uniform attention over padding instead of none"),
    Mutant("attention.keys_from_W_q", SELF, "Q, K, V = self.W_q(x), self.W_k(x), self.W_v(x)",
           "Q, K, V = self.W_q(x), self.W_q(x), self.W_v(x)", "K computed with W_q (copy-paste)"),
    Mutant("attention.multi_head_scale_d_model", MHA, "Q = self.split_heads(self.W_q(x))  # (B, h, T, d_k)",
           "Q = self.split_heads(self.W_q(x)) * (self.d_k / self.d_model) ** 0.5  # scores / sqrt(d_model)",
           "multi-head scores scaled by 1/sqrt(d_model) instead of 1/sqrt(d_k)",
           breaks="every multi-head output and gradient is wrong (the heads or their output projection)"),
    Mutant("attention.W_o_missing", MHA, "return self.W_o(self.merge_heads(heads))",
           "return self.merge_heads(heads)", "the output projection W_o is never applied",
           breaks="every multi-head output and gradient is wrong (the heads or their output projection)"),
    Mutant("attention.split_heads_without_transpose", "MultiHeadAttention.split_heads",
           "return x.view(B, T, self.num_heads, self.d_k).transpose(1, 2)",
           "return x.reshape(B, self.num_heads, T, self.d_k)",
           "heads split by a reshape to (B, h, T, d_k) without the transpose",
           breaks="every multi-head output and gradient is wrong (the heads or their output projection)"),
    Mutant("attention.merge_heads_without_transpose", "MultiHeadAttention.merge_heads",
           "return x.transpose(1, 2).reshape(B, T, self.d_model)", "return x.reshape(B, T, self.d_model)",
           "heads merged by a reshape of (B, h, T, d_k) without the transpose",
           breaks="every multi-head output and gradient is wrong (the heads or their output projection)"),
    Mutant("attention.single_head", MHA, """\
        Q = self.split_heads(self.W_q(x))  # (B, h, T, d_k)
        K = self.split_heads(self.W_k(x))
        V = self.split_heads(self.W_v(x))
        heads = scaled_dot_product_attention(Q, K, V, key_padding_mask)  # (B, h, T, d_k)
        return self.W_o(self.merge_heads(heads))
""", """\
        heads = scaled_dot_product_attention(self.W_q(x), self.W_k(x), self.W_v(x), key_padding_mask)
        return self.W_o(heads)
""", "one head of size d_model: the heads are never split",
           breaks="every multi-head output and gradient is wrong (the heads or their output projection)"),
    # what the dtype, device, twice-in-a-row and separate masked/unmasked gradient tests target (issue #15)
    Mutant("attention.additive_mask_default_dtype", SDPA, """\
        scores = scores.masked_fill(mask, torch.finfo(scores.dtype).min)
""", """\
        scores = scores + torch.zeros(mask.shape, device=scores.device).masked_fill(mask, -1e9)
""", "an additive mask made with torch.zeros(...) in the default dtype: float32 scores become float64 when the "
       "default dtype is float64"),
    Mutant("attention.additive_mask_on_cpu", SDPA, """\
        scores = scores.masked_fill(mask, torch.finfo(scores.dtype).min)
""", """\
        scores = scores + torch.zeros(mask.shape, dtype=scores.dtype).masked_fill(mask, -1e9)
""", "an additive mask made with torch.zeros(...) on the CPU: fails when the model is on a GPU"),
    Mutant("attention.mask_kept_from_first_batch", MHA, """\
        heads = scaled_dot_product_attention(Q, K, V, key_padding_mask)  # (B, h, T, d_k)
""", """\
        if getattr(self, "key_padding_mask", None) is None:
            self.key_padding_mask = key_padding_mask  # kept from the first masked batch
        heads = scaled_dot_product_attention(Q, K, V, self.key_padding_mask)  # (B, h, T, d_k)
""", "the key-padding mask kept on self from the first batch and reused for every later batch"),
    Mutant("attention.weights_zeroed_in_place", SDPA, """\
    weights = torch.softmax(scores, dim=-1)  # exactly 0 on padded keys (exp underflows)
""", """\
    weights = torch.softmax(scores, dim=-1)
    if key_padding_mask is not None:
        weights.masked_fill_(mask, 0.0)  # padded keys exactly 0, in place: autograd needs the softmax's output
""", "padded keys' weights zeroed in place after the softmax: right values, but the masked backward fails"),
]
