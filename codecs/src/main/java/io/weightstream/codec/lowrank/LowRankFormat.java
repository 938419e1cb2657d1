package io.weightstream.codec.lowrank;

/**
 * Constants of the {@code lowrank} payload body (after the common {@link io.weightstream.codec.PayloadHeader}):
 *
 * <pre>
 *   varint  rank k (at most min(R, C))
 *   i16     exponent bias of A, i16 exponent bias of B ({@link io.weightstream.codec.rtn.BiasedHalf})
 *   u16 x R*k   A = U_k sqrt(S_k), float16, row-major R x k
 *   u16 x k*C   B^T = sqrt(S_k) V_k^T, float16, row-major k x C
 * </pre>
 *
 * The matrix is the 2-D view R x C of the tensor (R = first dimension, C = product of the others; rank 0 and 1
 * tensors are 1 x N). Decoding computes {@code W'[i][j] = sum over t = 0..k-1 of A[i][t] * B^T[t][j]} in float32,
 * starting from 0 and adding the terms in increasing t, each product rounded before its addition (no fused
 * multiply-add), so every machine gets the same bits.
 */
final class LowRankFormat {
    static final int FORMAT_VERSION = 1;

    private LowRankFormat() {
    }
}
