/**
 * The codec SPI: named tensor compression methods discovered with {@link java.util.ServiceLoader}.
 *
 * <h2>Using codecs</h2>
 * <pre>{@code
 * Codec codec = Codecs.get("lossless");                                    // by name
 * CodecParams params = CodecParams.parseAssignments(codec, List.of("min.gain=0.01"));  // --set k=v
 * byte[] payload = codec.encode(tensor, params);
 * Tensor back = Codecs.decode(ByteBuffer.wrap(payload)).withName(tensor.name());    // any codec's payload
 * TensorMetrics quality = TensorMetrics.compare(tensor, back);
 * }</pre>
 *
 * <h2>Writing a codec</h2>
 * <ol>
 *   <li>Package {@code io.weightstream.codec.<name>}: the public codec class {@code <Name>Codec implements Codec},
 *       package-private kernels (the loops, over {@code byte[]}/{@code float[]}), and a package-private
 *       {@code <Name>Format} with the format version and the body layout in its Javadoc.</li>
 *   <li>Declare the parameters as {@code public static final CodecParameter<T>} constants with defaults, ranges and
 *       descriptions; read them with {@link io.weightstream.codec.CodecParams#get}; call
 *       {@link io.weightstream.codec.CodecParams#requireFor} and validate the tensor at the public entry.</li>
 *   <li>Start every payload with {@link io.weightstream.codec.PayloadHeader} ({@code PayloadHeader.of(this, spec).write(out)});
 *       decode with {@link io.weightstream.codec.PayloadReader} after {@code PayloadHeader.read(in, limits)} and
 *       {@code requireCodec(name(), FORMAT_VERSION)}: every read is bounds-checked and fails with
 *       {@link io.weightstream.codec.CorruptPayloadException} carrying the offset. Check every declared count
 *       against what is left in the payload or against {@link io.weightstream.codec.DecodeLimits#checkAllocation}
 *       before allocating for it, and end with {@code in.requireEnd(...)}.</li>
 *   <li>Decoders are deterministic: integer arithmetic or plain float/double arithmetic in a fixed order, no
 *       {@code Math.fma}, {@code StrictMath} instead of {@code Math} for transcendental functions, no parallel
 *       reductions. Entropy-code symbol streams with {@link io.weightstream.codec.entropy.ByteCoder} (bytes) or
 *       {@link io.weightstream.codec.entropy.WideRans} (up to 65536 symbols).</li>
 *   <li>List the class in {@code codecs/src/main/resources/META-INF/services/io.weightstream.codec.Codec} and write
 *       {@code <Name>CodecTest extends AbstractCodecContractTest} (codecs test-jar).</li>
 * </ol>
 */
package io.weightstream.codec;
