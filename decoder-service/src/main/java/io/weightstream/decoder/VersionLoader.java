package io.weightstream.decoder;

import io.weightstream.serving.ModelComparison;
import io.weightstream.serving.OnnxModel;
import io.weightstream.serving.RealTexts;
import io.weightstream.serving.ServedModel;
import io.weightstream.serving.TextEmbedder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.reflect.Array;
import java.nio.file.Files;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns a stored version into a {@link ServedModel}: loads it into ONNX Runtime (with a {@link TextEmbedder} when a
 * tokenizer travelled with it) and warms it up on probe inputs, real sentences for a text model, synthetic inputs
 * otherwise. Warm-up is also the last check: every output must be finite and every embedding non-zero, or the
 * version is refused (a rebuilt file that loads but computes garbage is never served).
 */
final class VersionLoader {
    private static final Logger LOG = LoggerFactory.getLogger(VersionLoader.class);
    /** Used when {@link RealTexts} finds no license texts on this machine. */
    static final List<String> FALLBACK_TEXTS = List.of(
            "A man is eating food.",
            "The quick brown fox jumps over the lazy dog.",
            "Streaming compression sends each new checkpoint to the serving fleet in seconds.",
            "Permission is hereby granted, free of charge, to any person obtaining a copy of this software.");
    static final long SYNTHETIC_SEED = 20240501L;

    /** A loaded and warmed-up version, with what each step cost. */
    record Loaded(ServedModel model, double loadSeconds, double warmUpSeconds) {
    }

    private final int intraOpThreads;
    private final List<String> warmUpTexts;

    VersionLoader(int intraOpThreads, List<String> warmUpTexts) {
        this.intraOpThreads = intraOpThreads;
        this.warmUpTexts = List.copyOf(warmUpTexts);
    }

    /** {@code count} real paragraphs, or a few fixed sentences when the machine has no license texts. */
    static List<String> defaultWarmUpTexts(int count) {
        try {
            return RealTexts.paragraphs(count);
        } catch (RuntimeException e) {
            LOG.info("no real texts for warm-up ({}); using {} fixed sentences", e.getMessage(), FALLBACK_TEXTS.size());
            return FALLBACK_TEXTS.subList(0, Math.min(count, FALLBACK_TEXTS.size()));
        }
    }

    /**
     * @throws IllegalStateException when the file is not what version.json says, or warm-up fails
     * @throws io.weightstream.serving.OnnxModelException when ONNX Runtime rejects the model
     */
    Loaded load(ModelRepository.StoredVersion v) {
        String where = v.model() + "/" + v.version();
        long size;
        try {
            size = Files.size(v.modelFile());
        } catch (IOException e) {
            throw new UncheckedIOException(where + ": cannot read " + v.modelFile() + ": " + e.getMessage(), e);
        }
        if (size != v.fileBytes()) {
            throw new IllegalStateException(where + ": " + v.modelFile() + " has " + size + " bytes but "
                    + ModelRepository.VERSION_FILE + " says " + v.fileBytes());
        }
        long t0 = System.nanoTime();
        OnnxModel onnx = OnnxModel.builder().path(v.modelFile()).name(where).intraOpThreads(intraOpThreads).build();
        TextEmbedder embedder = null;
        try {
            if (v.tokenizer().isPresent()) {
                try {
                    embedder = TextEmbedder.builder().model(onnx).tokenizerPath(v.tokenizer().get()).build();
                } catch (IllegalArgumentException e) {
                    // a tokenizer travelled with a model that is not a BERT-style encoder: serve raw outputs only
                    LOG.warn("{}: has a tokenizer but is not a text model ({}); serving it without /embed", where,
                            e.getMessage());
                }
            }
            long t1 = System.nanoTime();
            warmUp(where, onnx, embedder);
            long t2 = System.nanoTime();
            ServedModel served = new ServedModel(v.info(), onnx, embedder);
            return new Loaded(served, (t1 - t0) / 1e9, (t2 - t1) / 1e9);
        } catch (RuntimeException | Error e) {
            if (embedder != null) {
                embedder.close();
            }
            onnx.close();
            throw e;
        }
    }

    private void warmUp(String where, OnnxModel onnx, TextEmbedder embedder) {
        try {
            if (embedder != null) {
                float[][] vectors = embedder.embed(warmUpTexts);
                for (int i = 0; i < vectors.length; i++) {
                    double sq = 0;
                    for (float x : vectors[i]) {
                        if (!Float.isFinite(x)) {
                            throw new IllegalStateException("embedding of probe text " + i + " is not finite");
                        }
                        sq += (double) x * x;
                    }
                    if (sq == 0) {
                        throw new IllegalStateException("embedding of probe text " + i + " is all zeros");
                    }
                }
                return;
            }
            Map<String, Object> inputs = ModelComparison.syntheticInputs(onnx, new SplittableRandom(SYNTHETIC_SEED));
            for (int run = 0; run < 2; run++) {
                for (Map.Entry<String, Object> out : onnx.run(inputs).entrySet()) {
                    String bad = firstNonFinite(out.getValue());
                    if (bad != null) {
                        throw new IllegalStateException("output '" + out.getKey() + "' holds " + bad);
                    }
                }
            }
        } catch (IllegalStateException e) {
            throw new IllegalStateException(where + ": warm-up failed: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            throw new IllegalStateException(where + ": warm-up failed: " + e, e);
        }
    }

    /** "NaN" or "Infinity" if a float or double in a (nested) array is not finite, else null. */
    static String firstNonFinite(Object value) {
        if (value instanceof float[] f) {
            for (float x : f) {
                if (!Float.isFinite(x)) {
                    return Float.toString(x);
                }
            }
        } else if (value instanceof double[] d) {
            for (double x : d) {
                if (!Double.isFinite(x)) {
                    return Double.toString(x);
                }
            }
        } else if (value instanceof Float f && !Float.isFinite(f)) {
            return f.toString();
        } else if (value instanceof Double d && !Double.isFinite(d)) {
            return d.toString();
        } else if (value != null && value.getClass().isArray() && !value.getClass().getComponentType().isPrimitive()) {
            for (int i = 0; i < Array.getLength(value); i++) {
                String bad = firstNonFinite(Array.get(value, i));
                if (bad != null) {
                    return bad;
                }
            }
        }
        return null;
    }
}
