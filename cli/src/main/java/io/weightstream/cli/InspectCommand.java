package io.weightstream.cli;

import io.weightstream.checkpoint.Checkpoint;
import io.weightstream.checkpoint.CheckpointTensor;
import java.io.PrintWriter;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code weightstream inspect FILE [--sha256]}: one line per tensor, then totals. */
@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = {"Lists the tensors of a checkpoint (safetensors or ONNX): name, dtype, shape, bytes, alias.",
                "The last line is 'tensors=N params=P bytes=B'."})
public final class InspectCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "FILE", description = "A .safetensors or .onnx file.")
    Path file;

    @Option(names = "--sha256", description = "Add the SHA-256 of each tensor's raw little-endian bytes.")
    boolean sha256;

    @Override
    public Integer call() throws Exception {
        if (!Files.isRegularFile(file)) {
            throw new NoSuchFileException(file + " (no such file)");
        }
        PrintWriter out = spec.commandLine().getOut();
        long params = 0;
        long bytes = 0;
        try (Checkpoint ckpt = Checkpoint.open(file)) {
            int nameWidth = 8;
            for (CheckpointTensor t : ckpt.tensors()) {
                nameWidth = Math.max(nameWidth, t.name().length());
            }
            nameWidth = Math.min(nameWidth, 80);
            ByteBuffer buf = sha256 ? ByteBuffer.allocate(1 << 20) : null;
            for (CheckpointTensor t : ckpt.tensors()) {
                StringBuilder line = new StringBuilder();
                line.append(String.format("%-" + nameWidth + "s  %-4s  %-20s  %12d", t.name(), t.spec().dtype(),
                        Arrays.toString(t.spec().shape()), t.byteSize()));
                if (sha256) {
                    line.append("  ").append(sha256(t, buf));
                }
                if (t.alias() != null) {
                    line.append("  alias=").append(t.alias());
                }
                out.println(line);
                params += t.spec().numel();
                bytes += t.byteSize();
            }
            out.printf("tensors=%d params=%d bytes=%d%n", ckpt.tensors().size(), params, bytes);
        }
        out.flush();
        return 0;
    }

    static String sha256(CheckpointTensor t, ByteBuffer buf) throws Exception {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        for (long off = 0; off < t.byteSize(); ) {
            buf.clear();
            off += t.read(off, buf);
            buf.flip();
            md.update(buf);
        }
        return HexFormat.of().formatHex(md.digest());
    }
}
