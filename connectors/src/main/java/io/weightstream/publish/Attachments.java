package io.weightstream.publish;

import io.weightstream.schemas.Attachment;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;

/**
 * Small files that travel with a model version inside its manifest, such as the tokenizer a serving replica needs
 * for {@code /embed}. A model file {@code m.onnx} finds its tokenizer as {@code m-tokenizer.json} (the LangChain4j
 * artifacts' naming) or {@code tokenizer.json} beside it; it travels under the name {@value #TOKENIZER}.
 */
public final class Attachments {
    /** The name a tokenizer travels under, whatever its file was called. */
    public static final String TOKENIZER = "tokenizer.json";
    /** The most attachment bytes one manifest carries. */
    public static final long MAX_TOTAL_BYTES = 8L << 20;

    private Attachments() {
    }

    /** The tokenizer file beside {@code modelFile}, if there is one. */
    public static Optional<Path> tokenizerFor(Path modelFile) {
        Path dir = modelFile.toAbsolutePath().getParent();
        String base = modelFile.getFileName().toString().replaceFirst("\\.[^.]+$", "");
        for (Path candidate : List.of(dir.resolve(base + "-tokenizer.json"), dir.resolve(TOKENIZER))) {
            if (Files.isRegularFile(candidate)) {
                return Optional.of(candidate);
            }
        }
        return Optional.empty();
    }

    /** The attachment of one file, under {@code name}. */
    public static Attachment of(String name, Path file) {
        if (name.contains("/") || name.contains("\\") || name.isBlank() || name.startsWith(".")) {
            throw new IllegalArgumentException("attachment name must be a plain file name: '" + name + "'");
        }
        try {
            long size = Files.size(file);
            if (size > MAX_TOTAL_BYTES) {
                throw new IllegalArgumentException(file + ": " + size + " bytes, more than the " + MAX_TOTAL_BYTES
                        + " an attachment may have");
            }
            byte[] data = Files.readAllBytes(file);
            String sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
            return Attachment.newBuilder().setName(name).setData(ByteBuffer.wrap(data)).setSha256(sha).build();
        } catch (IOException e) {
            throw new UncheckedIOException("reading attachment " + file, e);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The default attachments of a model file: its tokenizer, when there is one. */
    public static List<Attachment> defaultsFor(Path modelFile) {
        List<Attachment> out = new ArrayList<>();
        tokenizerFor(modelFile).ifPresent(t -> out.add(of(TOKENIZER, t)));
        return out;
    }

    /** Checks names are unique and the total fits {@link #MAX_TOTAL_BYTES}. */
    public static void check(List<Attachment> attachments) {
        long total = 0;
        java.util.Set<String> names = new java.util.HashSet<>();
        for (Attachment a : attachments) {
            if (!names.add(a.getName())) {
                throw new IllegalArgumentException("two attachments are named " + a.getName());
            }
            total += a.getData().remaining();
        }
        if (total > MAX_TOTAL_BYTES) {
            throw new IllegalArgumentException("attachments hold " + total + " bytes, more than " + MAX_TOTAL_BYTES);
        }
    }
}
