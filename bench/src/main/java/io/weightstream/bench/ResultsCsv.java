package io.weightstream.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code results.csv} and {@code layers.csv}: one header line ({@link #HEADER}, {@link #LAYERS_HEADER}), then one
 * line per row; RFC 4180 quoting where a field needs it; numbers with a '.' decimal point; an empty field where a
 * figure does not apply. Columns of results.csv (units in the names):
 * <ul>
 *   <li>{@code ratio} original file bytes / compressed bytes; {@code weights_ratio} tensor bytes / payload bytes</li>
 *   <li>{@code quality_metric} {@code embedding_cosine} (quality_mean/min = mean/min cosine of sentence embeddings
 *       of real paragraphs) or {@code top1_agreement} (mean = agreement with the original on held-back digits, min =
 *       lowest agreement within one digit class, accuracy = the reconstruction's accuracy)</li>
 *   <li>{@code rel_l2} whole-model relative L2 error of the weights, {@code max_layer_rel_l2} the worst tensor's</li>
 *   <li>{@code enc_mbps_1t}, {@code dec_mbps_1t}: MB/s of tensor bytes, one thread, codec only;
 *       {@code enc_mbps_all}, {@code dec_mbps_all}: codec only, every tensor on {@code threads} threads;
 *       {@code compress_mbps_all}, {@code decompress_mbps_all}: end to end on {@code threads} threads
 *       ({@code OfflineCompressor} with its verification decode and hashes, {@code ModelMaterializer.decode} with its
 *       SHA-256 checks); {@code enc_vs_zstd3}, {@code dec_vs_zstd3}: the one-thread figures over zstd level 3's on the
 *       same model in the same run</li>
 *   <li>{@code publish_to_serving_s}: through Kafka, the Flink job and a decoder replica, when the pipeline ran this
 *       setting</li>
 * </ul>
 *
 * <pre>{@code
 * List<Map<String, String>> rows = ResultsCsv.read(dir.resolve("results.csv"), ResultsCsv.HEADER);
 * double ratio = Double.parseDouble(rows.get(0).get("ratio"));
 * }</pre>
 */
public final class ResultsCsv {
    /** The columns of results.csv, in order. */
    public static final List<String> HEADER = List.of("model", "method", "setting", "ratio", "weights_ratio",
            "original_bytes", "compressed_bytes", "quality_metric", "quality_mean", "quality_min", "accuracy", "exact",
            "rel_l2", "max_layer_rel_l2", "enc_mbps_1t", "dec_mbps_1t", "enc_mbps_all", "dec_mbps_all", "compress_mbps_all",
            "decompress_mbps_all", "threads",
            "enc_vs_zstd3", "dec_vs_zstd3", "publish_to_serving_s", "seconds");
    /** The columns of layers.csv, in order. */
    public static final List<String> LAYERS_HEADER = List.of("model", "method", "setting", "tensor", "label", "dtype",
            "shape", "elements", "original_bytes", "encoded_bytes", "codec", "rel_l2", "cosine");

    private ResultsCsv() {
    }

    static void write(Path file, List<BenchRow> rows) {
        List<List<String>> lines = new ArrayList<>();
        for (BenchRow r : rows) {
            lines.add(List.of(r.model(), r.method(), r.setting(), num(r.ratio()), num(r.weightsRatio()),
                    Long.toString(r.originalBytes()), Long.toString(r.compressedBytes()), r.metric(), num(r.qualityMean()),
                    num(r.qualityMin()), num(r.accuracy()), Boolean.toString(r.exact()), num(r.relL2()),
                    num(r.maxLayerRelL2()), num(r.encMbps1t()), num(r.decMbps1t()), num(r.encMbpsAll()),
                    num(r.decMbpsAll()), num(r.compressMbpsAll()), num(r.decompressMbpsAll()), Integer.toString(r.threads()), num(r.encVsZstd3()), num(r.decVsZstd3()),
                    num(r.publishToServingSeconds()), num(r.seconds())));
        }
        writeLines(file, HEADER, lines);
    }

    static void writeLayers(Path file, List<LayerError> layers) {
        List<List<String>> lines = new ArrayList<>();
        for (LayerError l : layers) {
            lines.add(List.of(l.model(), l.method(), l.setting(), l.tensor(), l.label(), l.dtype(), l.shape(),
                    Long.toString(l.elements()), Long.toString(l.originalBytes()), Long.toString(l.encodedBytes()),
                    l.codec(), num(l.relL2()), num(l.cosine())));
        }
        writeLines(file, LAYERS_HEADER, lines);
    }

    /**
     * Reads a CSV written here, checking its header.
     *
     * @throws IllegalArgumentException when the header differs from {@code header} or a line has another field count
     */
    public static List<Map<String, String>> read(Path file, List<String> header) {
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
        if (lines.isEmpty() || !parseLine(lines.get(0)).equals(header)) {
            throw new IllegalArgumentException(file + ": header is not " + String.join(",", header));
        }
        List<Map<String, String>> out = new ArrayList<>();
        for (int i = 1; i < lines.size(); i++) {
            if (lines.get(i).isEmpty()) {
                continue;
            }
            List<String> fields = parseLine(lines.get(i));
            if (fields.size() != header.size()) {
                throw new IllegalArgumentException(file + " line " + (i + 1) + ": " + fields.size() + " fields, expected "
                        + header.size());
            }
            Map<String, String> m = new LinkedHashMap<>();
            for (int k = 0; k < header.size(); k++) {
                m.put(header.get(k), fields.get(k));
            }
            out.add(m);
        }
        return out;
    }

    /** Splits one CSV line (RFC 4180 quotes; no line breaks inside fields). */
    static List<String> parseLine(String line) {
        List<String> out = new ArrayList<>();
        StringBuilder f = new StringBuilder();
        boolean quoted = false;
        for (int i = 0; i < line.length(); i++) {
            char c = line.charAt(i);
            if (quoted) {
                if (c == '"' && i + 1 < line.length() && line.charAt(i + 1) == '"') {
                    f.append('"');
                    i++;
                } else if (c == '"') {
                    quoted = false;
                } else {
                    f.append(c);
                }
            } else if (c == '"') {
                quoted = true;
            } else if (c == ',') {
                out.add(f.toString());
                f.setLength(0);
            } else {
                f.append(c);
            }
        }
        out.add(f.toString());
        return out;
    }

    private static void writeLines(Path file, List<String> header, List<List<String>> lines) {
        StringBuilder sb = new StringBuilder(String.join(",", header)).append('\n');
        for (List<String> l : lines) {
            for (int i = 0; i < l.size(); i++) {
                if (i > 0) {
                    sb.append(',');
                }
                sb.append(quote(l.get(i)));
            }
            sb.append('\n');
        }
        try {
            Files.writeString(file, sb.toString(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
    }

    private static String quote(String s) {
        if (s.contains(",") || s.contains("\"") || s.contains("\n")) {
            return '"' + s.replace("\"", "\"\"") + '"';
        }
        return s;
    }

    /** A number as CSV writes it: 8 significant digits, empty for NaN. */
    static String num(double v) {
        if (Double.isNaN(v) || Double.isInfinite(v)) {
            return "";
        }
        if (v == Math.rint(v) && Math.abs(v) < 1e15) {
            return Long.toString((long) v);
        }
        return String.format(Locale.ROOT, "%.8g", v).replaceFirst("(\\.\\d*?)0+(e|$)", "$1$2").replaceFirst("\\.(e|$)", "$1");
    }
}
