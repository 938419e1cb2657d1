package io.weightstream.serving;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.function.Supplier;

/** Served versions for the serving tests: tiny affine models that say which version they are, and the real MiniLM. */
final class ServingFixtures {
    private ServingFixtures() {
    }

    static ServedModel.Info info(String model, String version, long fileBytes) {
        return new ServedModel.Info(model, version, Path.of("/repo", model, version, model + ".onnx"), fileBytes,
                fileBytes / 4, 4.0, Map.of("lossless", 1, "rtn", 2), 1_700_000_000_000L, 0);
    }

    /**
     * Version {@code version} of a tiny model: {@code y = x @ W + bias} with every weight equal to {@code version},
     * so {@link #whichVersion} of its output tells which version ran.
     */
    static ServedModel tiny(String model, int version) {
        float[] w = new float[12];
        Arrays.fill(w, version);
        byte[] bytes = TestModels.tinyAffine(w);
        OnnxModel onnx = OnnxModel.builder().bytes(bytes).name(model + "-" + version).intraOpThreads(1).build();
        return new ServedModel(info(model, Integer.toString(version), bytes.length), onnx, null);
    }

    /** Runs a tiny model on x = [1, 0, 0], bias = 0: every output equals the version's weight. */
    static float whichVersion(ServedModel tiny) {
        Map<String, Object> out = tiny.onnx().run(Map.of("x", new float[][] {{1, 0, 0}}, "bias", new float[1][4]));
        return ((float[][]) out.get("y"))[0][0];
    }

    /** The real all-MiniLM-L6-v2 with its tokenizer, one intra-op thread, as version {@code version}. */
    static ServedModel minilm(String model, String version) {
        Path onnxFile = TestModels.minilm();
        OnnxModel onnx = OnnxModel.builder().path(onnxFile).intraOpThreads(1).build();
        try {
            TextEmbedder embedder = TextEmbedder.builder().model(onnx)
                    .tokenizerPath(TextEmbedder.tokenizerFor(onnxFile)).build();
            embedder.embed("warm up");   // the caller of swap hands in a warmed-up version
            return new ServedModel(info(model, version, onnxFile.toFile().length()), onnx, embedder);
        } catch (RuntimeException e) {
            onnx.close();
            throw e;
        }
    }

    /** Keeps versions as loaders and swaps them in on activation, like the decoder's repository does. */
    static final class KeptVersions implements VersionActivator {
        private final ServingModels models;
        private final Map<String, Map<String, Supplier<ServedModel>>> kept = new LinkedHashMap<>();
        private final Map<String, List<ServedModel.Info>> infos = new LinkedHashMap<>();

        KeptVersions(ServingModels models) {
            this.models = models;
        }

        synchronized KeptVersions keep(String model, String version, long fileBytes, Supplier<ServedModel> loader) {
            kept.computeIfAbsent(model, m -> new LinkedHashMap<>()).put(version, loader);
            infos.computeIfAbsent(model, m -> new ArrayList<>()).add(info(model, version, fileBytes));
            return this;
        }

        @Override
        public ServedModel.Info activate(String model, String version) {
            Supplier<ServedModel> loader;
            synchronized (this) {
                Map<String, Supplier<ServedModel>> versions = kept.get(model);
                if (versions == null) {
                    throw new NoSuchElementException("no versions of model '" + model + "' are kept here");
                }
                loader = versions.get(version);
                if (loader == null) {
                    throw new NoSuchElementException("model '" + model + "' has no version '" + version
                            + "' kept here; kept: " + versions.keySet());
                }
            }
            ServedModel loaded = loader.get();
            try {
                return models.swap(loaded);
            } catch (RuntimeException e) {
                loaded.close();
                throw e;
            }
        }

        @Override
        public synchronized List<ServedModel.Info> keptVersions(String model) {
            return List.copyOf(infos.getOrDefault(model, List.of()));
        }
    }
}
