/**
 * Entropy coders shared by the codecs, pure Java and deterministic:
 * {@link io.weightstream.codec.entropy.ByteCoder} for byte streams (raw, constant, rANS or Huffman, chosen per
 * stream), {@link io.weightstream.codec.entropy.ByteRans} (the same streams, rANS only),
 * {@link io.weightstream.codec.entropy.WideRans} for alphabets of up to 65536 symbols, and
 * {@link io.weightstream.codec.entropy.FrequencyTable}, the normalized frequencies with their compact
 * serialization. The kernels ({@code RansKernel}, {@code HuffmanKernel}) are package-private.
 */
package io.weightstream.codec.entropy;
