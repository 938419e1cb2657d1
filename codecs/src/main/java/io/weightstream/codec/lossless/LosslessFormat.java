package io.weightstream.codec.lossless;

/**
 * Constants of the {@code lossless} payload body (after the common {@link io.weightstream.codec.PayloadHeader}):
 *
 * <pre>
 *   u8      form: 0 the dtype's own bytes | 1 F32 stored as F16 | 2 F32 stored as BF16
 *   u8      flags: bit 0 = a CRC32C of the tensor's bytes follows
 *   varint  elements per block (absent for an empty tensor)
 *   [u32    CRC32C of the original tensor bytes, little-endian]
 *   u32 x (blocks - 1)   byte length of every block but the last (lets blocks be decoded independently)
 *   blocks: per block, one self-delimiting {@link io.weightstream.codec.entropy.ByteCoder} stream per byte plane
 * </pre>
 *
 * Byte planes of a block of n elements of width w: plane k holds byte (w - 1 - k) of every element, most
 * significant first, after rotating floating-point values left by one bit so that the exponent fills the top
 * byte (F32, BF16, F64) and the sign joins the noisy low mantissa byte.
 */
final class LosslessFormat {
    static final int FORMAT_VERSION = 1;

    static final int FORM_AS_IS = 0;
    static final int FORM_F16 = 1;
    static final int FORM_BF16 = 2;

    static final int FLAG_CHECKSUM = 1;
    static final int KNOWN_FLAGS = FLAG_CHECKSUM;


    private LosslessFormat() {
    }
}
