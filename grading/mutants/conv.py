"""Mistakes in conv.py (Problem 1(a)): the naive Conv2d, the im2col FasterConv2d and their constructor."""

from __future__ import annotations

from grading.mutants import Mutant

NAIVE, FASTER, INIT = "Conv2d.convolution", "FasterConv2d.convolution", "_ConvBase.__init__"
SIZE = """\
        H_out = (H + 2 * P - F) // S + 1  # SOLUTION
        W_out = (W + 2 * P - F) // S + 1  # SOLUTION
"""
PAD = "x = nn.functional.pad(x, (P, P, P, P))  # SOLUTION"
PAD_ONE_SIDE = "x = nn.functional.pad(x, (0, 2 * P, 0, 2 * P))  # SOLUTION"

MUTANTS: list[Mutant] = [
    # --- Conv2d (naive) ---------------------------------------------------------------------------
    Mutant("conv.pad_one_side", NAIVE, PAD, PAD_ONE_SIDE,
           "all 2P zeros on the bottom and right (x copied into the top-left corner of a zero array)"),
    Mutant("conv.pad_width_only", NAIVE, PAD, "x = nn.functional.pad(x, (P, P))  # SOLUTION",
           "F.pad(x, (P, P)) pads only the last dimension (the width), not the height"),
    Mutant("conv.ceil_output_size", NAIVE, SIZE, """\
        H_out = -(-(H + 2 * P - F) // S) + 1  # SOLUTION
        W_out = -(-(W + 2 * P - F) // S) + 1  # SOLUTION
""", "ceil instead of floor in H_out = floor((H + 2P - F) / S) + 1"),
    Mutant("conv.stride_ignored_in_size", NAIVE, SIZE, """\
        H_out = H + 2 * P - F + 1  # SOLUTION
        W_out = W + 2 * P - F + 1  # SOLUTION
""", "the output size ignores the stride"),
    Mutant("conv.height_from_width", NAIVE, "H_out = (H + 2 * P - F) // S + 1  # SOLUTION",
           "H_out = (W + 2 * P - F) // S + 1  # SOLUTION",
           "H and W mixed up (square test images hide it)"),
    Mutant("conv.stride_ignored_in_indexing", NAIVE,
           "field = x[:, :, i * S : i * S + F, j * S : j * S + F]",
           "field = x[:, :, i : i + F, j : j + F]",
           "the receptive field of (i, j) starts at (i, j) instead of (i*S, j*S)"),
    Mutant("conv.flipped_filters", NAIVE, "(field.unsqueeze(1) * filters)",
           "(field.unsqueeze(1) * filters.flip(-2, -1))",
           "a true convolution (filters flipped) instead of the cross-correlation conv2d computes"),
    Mutant("conv.bias_twice", NAIVE, "(field.unsqueeze(1) * filters).sum(dim=(2, 3, 4))",
           "(field.unsqueeze(1) * filters).sum(dim=(2, 3, 4)) + (0 if biases is None else biases)",
           "the bias added inside the loop and again after it"),
    Mutant("conv.bias_missing", NAIVE, "out = out + biases.view(1, C_out, 1, 1)", "out = out",
           "the biases are never added"),
    Mutant("conv.channels_not_summed", NAIVE, "(field.unsqueeze(1) * filters).sum(dim=(2, 3, 4))",
           "(field.unsqueeze(1) * filters)[:, :, 0].sum(dim=(2, 3))",
           "only the first input channel is convolved (no sum over channels)"),
    Mutant("conv.float32_output", NAIVE, "out = x.new_zeros(N, C_out, H_out, W_out)",
           "out = torch.zeros(N, C_out, H_out, W_out)",
           "the output created with torch.zeros (float32) instead of in x's dtype"),
    Mutant("conv.filters_data_no_grad", NAIVE, "(field.unsqueeze(1) * filters)",
           "(field.unsqueeze(1) * filters.data)",
           "filters.data (or .detach()) in the computation: no gradient reaches the filters"),
    Mutant("conv.float32_buffer", NAIVE, """\
        out = x.new_zeros(N, C_out, H_out, W_out)
        for i in range(H_out):
            for j in range(W_out):
                field = x[:, :, i * S : i * S + F, j * S : j * S + F]  # (N, C_in, F, F)
                # (N, 1, C_in, F, F) * (C_out, C_in, F, F) -> (N, C_out, C_in, F, F) -> (N, C_out)
                out[:, :, i, j] = (field.unsqueeze(1) * filters).sum(dim=(2, 3, 4))
        if biases is not None:
            out = out + biases.view(1, C_out, 1, 1)
""", """\
        out = torch.zeros(N, C_out, H_out, W_out)
        for i in range(H_out):
            for j in range(W_out):
                field = x[:, :, i * S : i * S + F, j * S : j * S + F]  # (N, C_in, F, F)
                # (N, 1, C_in, F, F) * (C_out, C_in, F, F) -> (N, C_out, C_in, F, F) -> (N, C_out)
                out[:, :, i, j] = (field.unsqueeze(1) * filters).sum(dim=(2, 3, 4))
        if biases is not None:
            out += biases.view(1, C_out, 1, 1)
""", "the work buffer made with torch.zeros(...) (float32, on the CPU, whatever x is), biases added in place: "
           "every value right to float32 precision, returned as float32 for a float64 x (the original hint)"),
    Mutant("conv.convolution_reads_self_filters", NAIVE, "(field.unsqueeze(1) * filters)",
           "(field.unsqueeze(1) * self.filters)",
           "convolution(x, filters) computes with self.filters instead of its filters argument (forward is right)"),
    # --- FasterConv2d (im2col) ----------------------------------------------------------------------
    Mutant("conv.faster_pad_one_side", FASTER, PAD, PAD_ONE_SIDE,
           "FasterConv2d: all 2P zeros on the bottom and right"),
    Mutant("conv.faster_stride_ignored_in_unfold", FASTER, "x.unfold(2, F, S).unfold(3, F, S)",
           "x.unfold(2, F, 1).unfold(3, F, 1)",
           "FasterConv2d: windows taken with step 1 instead of the stride"),
    Mutant("conv.faster_reshape_without_permute", FASTER,
           "windows.permute(0, 1, 4, 5, 2, 3).reshape(N, C_in * F * F, H_out * W_out)",
           "windows.reshape(N, C_in * F * F, H_out * W_out)",
           "FasterConv2d: the unfolded windows reshaped straight to (N, C_in F F, H_out W_out), without "
           "moving the (u, v) axes before (i, j)"),
    Mutant("conv.faster_kernel_axes_swapped", FASTER, "windows.permute(0, 1, 4, 5, 2, 3)",
           "windows.permute(0, 1, 5, 4, 2, 3)",
           "FasterConv2d: rows (c, v, u) instead of (c, u, v): each filter is applied transposed"),
    Mutant("conv.faster_output_reshape_order", FASTER, """\
        out = torch.baddbmm(biases.view(1, C_out, 1), weights, cols)
        return out.view(N, C_out, H_out, W_out)
""", """\
        out = cols.transpose(1, 2) @ weights.transpose(1, 2) + biases  # (N, H_out W_out, C_out)
        return out.reshape(N, C_out, H_out, W_out)
""", "FasterConv2d: a (N, H_out W_out, C_out) product reshaped to (N, C_out, H_out, W_out) without a transpose"),
    Mutant("conv.faster_bias_missing", FASTER,
           "out = torch.baddbmm(biases.view(1, C_out, 1), weights, cols)",
           "out = torch.bmm(weights, cols)",
           "FasterConv2d: the biases are never added"),
    Mutant("conv.faster_float32_buffer", FASTER, """\
        out = torch.baddbmm(biases.view(1, C_out, 1), weights, cols)
""", """\
        out = torch.zeros(N, C_out, H_out * W_out)  # the output, filled below
        out[:] = torch.baddbmm(biases.view(1, C_out, 1), weights, cols)
""", "FasterConv2d: the output buffer made with torch.zeros(...) (float32, on the CPU, whatever x is) and "
           "filled: every value right to float32 precision, returned as float32 for a float64 x"),
    Mutant("conv.faster_reads_self_filters", FASTER, "weights = filters.reshape(1, C_out, C_in * F * F)",
           "weights = self.filters.reshape(1, C_out, C_in * F * F)",
           "FasterConv2d: convolution(x, filters) computes with self.filters instead of its filters argument"),
    Mutant("conv.faster_python_loop_im2col", FASTER, """\
        windows = x.unfold(2, F, S).unfold(3, F, S)  # (N, C_in, H_out, W_out, F, F), a view of x
        # Put (c, u, v) before (i, j), then flatten both groups: this reshape is the one copy of the data.
        cols = windows.permute(0, 1, 4, 5, 2, 3).reshape(N, C_in * F * F, H_out * W_out)
""", """\
        cols = torch.stack([x[:, :, i * S : i * S + F, j * S : j * S + F].reshape(N, -1)
                            for i in range(H_out) for j in range(W_out)], dim=2)
""", "FasterConv2d: im2col built with a Python loop over the output positions (correct, but not faster)"),
    # --- the constructor ----------------------------------------------------------------------------
    Mutant("conv.init_ignores_given_filters", INIT, """\
        if filters is None:
            filters = torch.empty(shape).uniform_(-bound, bound)
""", """\
        filters = torch.empty(shape).uniform_(-bound, bound)
""", "the given filters are replaced by random ones",
           breaks="both classes then convolve with random filters instead of the given ones: every output of the "
                  "module is wrong, which is what the value tests of both parts grade"),
    Mutant("conv.init_normal_filters", INIT, "filters = torch.empty(shape).uniform_(-bound, bound)",
           "filters = torch.randn(shape)",
           "default filters drawn from N(0, 1) instead of uniform in +-1/sqrt(C_in F F) (the documented range)"),
    Mutant("conv.init_plain_tensors", INIT, """\
        self.filters = nn.Parameter(filters)
        self.biases = nn.Parameter(biases)
""", """\
        self.filters = filters
        self.biases = biases
""", "filters and biases stored as plain tensors, not nn.Parameters: the optimizer never sees them"),
    Mutant("conv.init_casts_to_float32", INIT, "self.filters = nn.Parameter(filters)",
           "self.filters = nn.Parameter(filters.float())",
           "the given filters are cast to float32"),
]
