package io.weightstream.bench;

import java.util.Objects;

/**
 * One row of the bench: a model compressed by one method at one setting, with its size, quality and speed. NaN
 * where a figure does not apply (no speed for the ONNX Runtime int8 reference, no accuracy for text models, no
 * publish-to-serving time unless the pipeline ran this setting).
 *
 * <pre>{@code
 * for (BenchRow r : report.rows()) {
 *     System.out.printf("%s %s: %.2fx at %s %.4f%n", r.label(), r.model(), r.ratio(), r.metric(), r.qualityMean());
 * }
 * }</pre>
 *
 * @param model                   model id
 * @param method                  codec name, {@code zstd} or {@code ort-int8}
 * @param setting                 setting label ({@code bits=4 group.size=64})
 * @param originalBytes           the original file's bytes
 * @param compressedBytes         the compressed file's bytes ({@code .wsz} container, zstd frames, or the int8 model file)
 * @param tensorBytes             bytes of the original tensors
 * @param payloadBytes            bytes of the encoded tensors (without container, manifest and skeleton)
 * @param metric                  {@code embedding_cosine} or {@code top1_agreement}
 * @param qualityMean             mean cosine, or top-1 agreement
 * @param qualityMin              min cosine, or the lowest per-class agreement
 * @param accuracy                held-back accuracy of the reconstruction (MNIST), else NaN
 * @param exact                   true when every tensor decodes bit-identical (quality 1 by construction)
 * @param relL2                   whole-model relative L2 error of the weights (element-weighted RMS over float tensors)
 * @param maxLayerRelL2           the largest relative L2 error of one tensor
 * @param encMbps1t               encode MB/s, one thread, codec only (best of the timed passes)
 * @param decMbps1t               decode MB/s, one thread, codec only
 * @param encMbpsAll              encode MB/s, codec only, every tensor on a pool of {@code threads} threads
 * @param decMbpsAll              decode MB/s, codec only, on {@code threads} threads
 * @param compressMbpsAll         end to end with {@code threads} threads: {@code OfflineCompressor} (encode, decode again
 *                                to measure the error, hash), NaN for rows that do not go through it
 * @param decompressMbpsAll       end to end with {@code threads} threads: {@code ModelMaterializer.decode} (join chunks,
 *                                decode, verify SHA-256)
 * @param threads                 threads of the all-cores figures
 * @param encVsZstd3              encMbps1t divided by zstd level 3's on the same model in the same process
 * @param decVsZstd3              decMbps1t divided by zstd level 3's
 * @param publishToServingSeconds publish to serving through Kafka, the Flink job and a decoder replica, or NaN
 * @param seconds                 wall time the row took to measure
 */
public record BenchRow(String model, String method, String setting, long originalBytes, long compressedBytes,
                       long tensorBytes, long payloadBytes, String metric, double qualityMean, double qualityMin,
                       double accuracy, boolean exact, double relL2, double maxLayerRelL2, double encMbps1t,
                       double decMbps1t, double encMbpsAll, double decMbpsAll, double compressMbpsAll,
                       double decompressMbpsAll, int threads, double encVsZstd3,
                       double decVsZstd3, double publishToServingSeconds, double seconds) {
    public BenchRow {
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(method, "method");
        Objects.requireNonNull(setting, "setting");
        Objects.requireNonNull(metric, "metric");
    }

    /** Original file bytes / compressed bytes: what a user saves on disk and on the wire. */
    public double ratio() {
        return compressedBytes > 0 ? (double) originalBytes / compressedBytes : Double.NaN;
    }

    /** Tensor bytes / payload bytes: the codecs alone. */
    public double weightsRatio() {
        return payloadBytes > 0 ? (double) tensorBytes / payloadBytes : Double.NaN;
    }

    /** {@code method setting}, the row's name in plots. */
    public String label() {
        return setting.equals(BenchSetting.DEFAULT.label()) ? method : method + " " + setting;
    }

    /** Whether this row has speed figures (the reference model row has none). */
    public boolean timed() {
        return !Double.isNaN(encMbps1t);
    }

    BenchRow withZstdReference(double enc, double dec) {
        return new BenchRow(model, method, setting, originalBytes, compressedBytes, tensorBytes, payloadBytes, metric,
                qualityMean, qualityMin, accuracy, exact, relL2, maxLayerRelL2, encMbps1t, decMbps1t, encMbpsAll,
                decMbpsAll, compressMbpsAll, decompressMbpsAll, threads, enc, dec, publishToServingSeconds, seconds);
    }

    BenchRow withPublishToServing(double s) {
        return new BenchRow(model, method, setting, originalBytes, compressedBytes, tensorBytes, payloadBytes, metric,
                qualityMean, qualityMin, accuracy, exact, relL2, maxLayerRelL2, encMbps1t, decMbps1t, encMbpsAll,
                decMbpsAll, compressMbpsAll, decompressMbpsAll, threads, encVsZstd3, decVsZstd3, s, seconds);
    }
}
