package io.weightstream.job;

import io.weightstream.schemas.CheckpointManifest;
import io.weightstream.schemas.DType;
import io.weightstream.schemas.TensorEntry;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;
import org.apache.flink.streaming.api.functions.ProcessFunction;
import org.apache.flink.util.Collector;

/**
 * Splits the source's records: each chunk goes to {@link ChunkAssembler}; each manifest is checked, exploded into
 * one {@link ExpectedTensor} per tensor entry (to the assembler, keyed like the chunks) and sent whole to
 * {@link VersionTracker} ({@link SideOutputs#MANIFESTS}); dead letters from the deserializer and manifests that fail
 * the checks go to {@link SideOutputs#DEAD_LETTERS}.
 *
 * <pre>{@code
 * SingleOutputStreamOperator<AssemblerInput> routed = input.process(new InputRouter());
 * routed.getSideOutput(SideOutputs.MANIFESTS);
 * }</pre>
 */
public class InputRouter extends ProcessFunction<JobInput, AssemblerInput> {
    private static final long serialVersionUID = 1L;
    private static final Pattern SHA256 = Pattern.compile("[0-9a-f]{64}");
    private static final int MAX_PROBLEMS = 10;

    @Override
    public void processElement(JobInput in, Context ctx, Collector<AssemblerInput> out) {
        if (in.chunk != null) {
            out.collect(AssemblerInput.chunk(in.chunk, in.topic, in.partition, in.offset));
        } else if (in.manifest != null) {
            CheckpointManifest m = in.manifest;
            List<String> problems = problems(m);
            if (!problems.isEmpty()) {
                ctx.output(SideOutputs.DEAD_LETTERS, DeadLetters.forTensor(m.getModel(), m.getVersion(), null,
                        DeadLetters.MANIFEST, "manifest of " + m.getModel() + "/" + m.getVersion() + " rejected: "
                                + String.join("; ", problems), null, ctx.timerService().currentProcessingTime(), in.topic));
                return;
            }
            for (TensorEntry e : m.getTensors()) {
                out.collect(AssemblerInput.expected(ExpectedTensor.of(m, e)));
            }
            ctx.output(SideOutputs.MANIFESTS, m);
        } else if (in.deadLetter != null) {
            ctx.output(SideOutputs.DEAD_LETTERS, in.deadLetter);
        }
    }

    /** What makes a manifest unusable; empty when it is fine. Sizes are checked here, before anything is buffered. */
    static List<String> problems(CheckpointManifest m) {
        List<String> problems = new ArrayList<>();
        if (!isName(m.getModel()) || !isName(m.getVersion())) {
            problems.add("model and version must be non-empty names without '/'");
        }
        if (m.getTensors().isEmpty()) {
            problems.add("it lists no tensors");
        }
        Set<String> names = new HashSet<>();
        for (TensorEntry e : m.getTensors()) {
            String p = entryProblem(e, m.getChunkBytes());
            if (p != null) {
                problems.add(p);
            } else if (!names.add(e.getName())) {
                problems.add("tensor '" + e.getName() + "' is listed twice");
            }
            if (problems.size() >= MAX_PROBLEMS) {
                problems.add("(further problems not listed)");
                break;
            }
        }
        return problems;
    }

    private static String entryProblem(TensorEntry e, int chunkBytes) {
        String name = e.getName();
        if (name == null || name.isEmpty()) {
            return "a tensor has an empty name";
        }
        String what = "tensor '" + name + "': ";
        if (e.getDtype() == null || e.getDtype() == DType.UNKNOWN) {
            return what + "unknown dtype";
        }
        long numel = 1;
        for (Long d : e.getShape()) {
            if (d == null || d < 0) {
                return what + "negative dimension in shape " + e.getShape();
            }
            try {
                numel = Math.multiplyExact(numel, d);
            } catch (ArithmeticException overflow) {
                return what + "shape " + e.getShape() + " overflows";
            }
        }
        long expectBytes;
        try {
            expectBytes = io.weightstream.tensor.DType.valueOf(e.getDtype().name()).byteSize(numel);
        } catch (ArithmeticException overflow) {
            return what + "shape " + e.getShape() + " overflows";
        }
        if (e.getByteSize() != expectBytes) {
            return what + "byteSize " + e.getByteSize() + " != " + e.getDtype() + " x " + e.getShape() + " = " + expectBytes;
        }
        if (e.getChunkCount() < 1) {
            return what + "chunkCount " + e.getChunkCount() + " < 1";
        }
        if (chunkBytes > 0) {
            long expectChunks = Math.max(1, (e.getByteSize() + chunkBytes - 1) / chunkBytes);
            if (e.getChunkCount() != expectChunks) {
                return what + "chunkCount " + e.getChunkCount() + " but " + e.getByteSize() + " bytes in chunks of "
                        + chunkBytes + " make " + expectChunks;
            }
        }
        if (e.getSha256() == null || !SHA256.matcher(e.getSha256()).matches()) {
            return what + "sha256 is not 64 lower-case hex digits";
        }
        return null;
    }

    private static boolean isName(String s) {
        return s != null && !s.isBlank() && !s.contains("/");
    }
}
