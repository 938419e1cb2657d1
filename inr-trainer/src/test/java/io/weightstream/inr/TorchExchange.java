package io.weightstream.inr;

import io.weightstream.codec.inr.InrArchitecture;
import io.weightstream.codec.inr.InrFit;
import io.weightstream.codec.inr.InrProblem;
import io.weightstream.codec.inr.InrSettings;
import java.io.IOException;
import java.io.Reader;
import java.io.Writer;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;

/**
 * Hands an {@link InrProblem} to {@code src/test/python/inr_torch.py} and its trained network back, for GPU machines
 * where DJL's CUDA build of libtorch (2.7.1) cannot run: the script trains the same network with the same loss,
 * AdamW, cosine schedule and quantization-aware phase in PyTorch, and {@link GpuProof} {@code --import} quantizes and
 * decodes its weights with the pure-Java codec. Files: {@code meta.properties}, {@code encoding.f32},
 * {@code coords.f32}, {@code target.f32}, {@code mask.f32} (little-endian float32) out; {@code result-DEVICE.properties}
 * ({@code steps}, {@code millis}, {@code relL2}, {@code device}) and {@code weights-DEVICE.f32} (the parameters in
 * {@link InrArchitecture#parameters()} order, each {@code [blocks, rows, cols]}) back.
 */
final class TorchExchange {
    private TorchExchange() {
    }

    static void export(Path dir, InrProblem problem) throws IOException {
        Files.createDirectories(dir);
        InrArchitecture a = problem.architecture();
        InrSettings s = problem.settings();
        Properties p = new Properties();
        p.setProperty("tensor", problem.tensorName());
        p.setProperty("blocks", Integer.toString(a.blocks()));
        p.setProperty("rows", Integer.toString(problem.rows()));
        p.setProperty("cols", Integer.toString(problem.cols()));
        p.setProperty("points", Long.toString(a.points()));
        p.setProperty("inputDim", Integer.toString(a.inputDim()));
        p.setProperty("coordinateDim", Integer.toString(a.coordinateDim()));
        p.setProperty("depth", Integer.toString(a.depth()));
        p.setProperty("width", Integer.toString(a.width()));
        p.setProperty("modWidth", Integer.toString(a.modWidth()));
        p.setProperty("tile", Integer.toString(a.tile()));
        p.setProperty("omega0", Float.toString(a.omega0()));
        StringBuilder params = new StringBuilder();
        for (InrArchitecture.Parameter q : a.parameters()) {
            params.append(params.length() == 0 ? "" : ",").append(q.name()).append(':').append(q.rows()).append('x')
                    .append(q.cols());
        }
        p.setProperty("parameters", params.toString());
        // how the codec will store each tensor (bits, one grid per slice or per output unit): the fake quantization
        // of the quantization-aware phase mirrors it
        StringBuilder bits = new StringBuilder();
        StringBuilder columns = new StringBuilder();
        for (int t = 0; t < a.parameters().size(); t++) {
            bits.append(t == 0 ? "" : ",").append(problem.quantization().bits(t));
            columns.append(t == 0 ? "" : ",").append(problem.quantization().perColumn(t));
        }
        p.setProperty("parameterBits", bits.toString());
        p.setProperty("parameterColumns", columns.toString());
        p.setProperty("steps", Integer.toString(s.steps()));
        p.setProperty("lr", Double.toString(s.learningRate()));
        p.setProperty("weightDecay", Double.toString(s.weightDecay()));
        p.setProperty("quantAware", Double.toString(s.quantAware()));
        p.setProperty("bits", Integer.toString(s.bits()));
        p.setProperty("seed", Long.toString(s.seed()));
        p.setProperty("bodyElements", Long.toString(problem.bodyElements()));
        // relL2 = sqrt(sse) * relScale
        p.setProperty("relScale", Double.toString(problem.relL2(1.0)));
        try (Writer w = Files.newBufferedWriter(dir.resolve("meta.properties"))) {
            p.store(w, "inr problem for inr_torch.py");
        }
        write(dir.resolve("encoding.f32"), problem.encoding());
        write(dir.resolve("coords.f32"), problem.coordinates());
        write(dir.resolve("target.f32"), problem.target());
        float[] mask = problem.mask();
        if (mask != null) {
            write(dir.resolve("mask.f32"), mask);
        }
    }

    static boolean hasResult(Path dir, String device) {
        return Files.isRegularFile(dir.resolve("result-" + device + ".properties"));
    }

    static InrFit result(Path dir, String device, InrProblem problem) throws IOException {
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(dir.resolve("result-" + device + ".properties"))) {
            p.load(r);
        }
        InrArchitecture a = problem.architecture();
        ByteBuffer all = ByteBuffer.wrap(Files.readAllBytes(dir.resolve("weights-" + device + ".f32")))
                .order(ByteOrder.LITTLE_ENDIAN);
        long expected = 4L * a.blocks() * a.parameterCount();
        if (all.remaining() != expected) {
            throw new IOException("weights-" + device + ".f32 has " + all.remaining() + " bytes, expected " + expected);
        }
        float[][] weights = new float[a.parameters().size()][];
        for (int i = 0; i < weights.length; i++) {
            weights[i] = new float[(int) (a.parameters().get(i).size() * a.blocks())];
            all.asFloatBuffer().get(weights[i]);
            all.position(all.position() + 4 * weights[i].length);
        }
        return new InrFit(weights, Integer.parseInt(p.getProperty("steps")), Long.parseLong(p.getProperty("millis")),
                Double.parseDouble(p.getProperty("relL2")), p.getProperty("device"), "steps");
    }

    private static void write(Path file, float[] values) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(4 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(values);
        Files.write(file, b.array());
    }
}
