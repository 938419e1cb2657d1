package io.weightstream.bench;

/**
 * Short layer names for plots: {@code /encoder/layer.0/attention/self/query/MatMul} becomes {@code L0.q},
 * {@code embeddings.word_embeddings.weight} {@code emb.word}, {@code fc1.weight} {@code fc1}.
 */
final class LayerLabels {
    private static final String[][] REPLACEMENTS = {
            {"encoder.layer.", "L"},
            {"attention.self.query", "q"},
            {"attention.self.key", "k"},
            {"attention.self.value", "v"},
            {"attention.output.dense", "attn_out"},
            {"intermediate.dense", "ffn_in"},
            {"output.dense", "ffn_out"},
            {"_embeddings", ""},
            {"embeddings.", "emb."},
    };

    private LayerLabels() {
    }

    /** The label of a tensor: its alias when the name is generated ({@code onnx::MatMul_787}), shortened. */
    static String of(String name, String alias) {
        String s = name.startsWith("onnx::") && alias != null && !alias.isBlank() ? alias : name;
        s = s.replace('/', '.');
        while (s.startsWith(".")) {
            s = s.substring(1);
        }
        for (String suffix : new String[] {".MatMul", ".Gather", ".weight", ".Conv", ".Gemm"}) {
            if (s.endsWith(suffix)) {
                s = s.substring(0, s.length() - suffix.length());
            }
        }
        for (String[] r : REPLACEMENTS) {
            s = s.replace(r[0], r[1]);
        }
        return s;
    }
}
