package io.weightstream.codec.hyper;

/**
 * Constants of the {@code hyper} payload body (after the common {@link io.weightstream.codec.PayloadHeader}):
 *
 * <pre>
 *   u8      n, weights per group: 2 or 3
 *   u8      flags: bit 0 pruned (a survivor bitmap follows the box sides)
 *   varint  U, trajectory nodes (theta = 0..U-1): 2..65536
 *   varint  g, the Korobov generator of the direction a = (1, g, g^2 mod U) / U: 0..U-1
 *   f32 x n centroid c
 *   u8      K, outlier categories: 0..3
 *   f32 x (K+1) box sides D_0 = L (category 0, the box) and D_k = L / s_k = 2 d_k: finite, > 0
 *   [pruned: varint M, survivors (at most N); one {@link io.weightstream.codec.entropy.ByteCoder} stream of
 *            ceil(N/8) bytes, bit i (LSB first) set for a survivor; exactly M bits set, none at i >= N]
 *   G = ceil(M / n) groups (M = N when not pruned): the survivors in index order, n consecutive values a group,
 *   the last group padded
 *   [K > 0 and G > 0: u8 category form, every category at most K:
 *     0 packed: ceil(log2(K+1)) bits per group ({@link io.weightstream.codec.rtn.PackedCodes})
 *     1 coded:  one ByteCoder stream of G bytes
 *     2 sparse: varint k, the groups outside the box (category above 0); varint b, one ByteCoder stream of b
 *               gap bytes: per outlier group the number of groups since the previous outlier (or the start) as
 *               bytes 255, ..., 255, r with r < 255 adding up to it; one ByteCoder stream of the k categories]
 *   [G > 0: u8 theta form:
 *     0 packed: G thetas of b = ceil(log2 U) bits, LSB first, ceil(G*b/8) bytes, every theta below U
 *     1 coded:  for each lattice symbol i = 0..n-1: zigzag varint m_i (|m_i| < 2^24), varint A_i - 1
 *               (A_i at most 65536), then the G symbols minus m_i: one ByteCoder stream (A_i at most 256)
 *               or one {@link io.weightstream.codec.entropy.WideRans} stream of alphabet A_i]
 * </pre>
 *
 * Coded symbols are the rounded Gram-Schmidt coordinates of the node in the reduced basis of its lattice
 * ({@link WindingLattice#nodeSymbols()}); a tuple of symbols that is no node's is corrupt (equivalently: turned
 * back into lattice coordinates k, {@code z = sum k_i b_i} lies outside {@code [0, U)^n}). Node theta is
 * {@code z_d = theta * a_d mod U} with {@code a = (1, g, g^2 mod U)}.
 *
 * <p>Group j of category k at node z decodes, coordinate d, to {@code (float) (o_kd + z_d * w_k)} with, in
 * double, {@code w_k = D_k / U} and {@code o_kd = c_d - D_k * 0.5 + w_k * 0.5}: the node
 * {@code h(theta) = (z + 1/2) / U} of the unit cube mapped back into the box of side D_k around c
 * (METHODS.md: {@code p-hat = c + (h(theta) - 1/2) L / s_k}).
 */
final class HyperFormat {
    static final int FORMAT_VERSION = 1;

    static final int FLAG_PRUNED = 1;
    static final int KNOWN_FLAGS = FLAG_PRUNED;

    static final int MIN_N = 2;
    static final int MAX_N = 3;
    static final int MIN_NODES = 2;
    static final int MAX_NODES = 1 << 16;
    static final int MAX_CATEGORIES = 3;

    static final int CATEGORIES_PACKED = 0;
    static final int CATEGORIES_CODED = 1;
    static final int CATEGORIES_SPARSE = 2;
    static final int THETA_PACKED = 0;
    static final int THETA_CODED = 1;

    /** Largest |m_i| a decoder accepts for the offset of a symbol stream. */
    static final int MAX_SYMBOL_OFFSET = 1 << 24;

    private HyperFormat() {
    }

    /** Bits of a packed theta: ceil(log2 U), at least 1. */
    static int thetaBits(int nodes) {
        return Math.max(1, 32 - Integer.numberOfLeadingZeros(nodes - 1));
    }

    /** Bits of a packed category: 1 for K = 1, 2 for K = 2 or 3. */
    static int categoryBits(int categories) {
        return categories <= 1 ? 1 : 2;
    }
}
