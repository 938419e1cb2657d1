package io.weightstream.checkpoint.safetensors;

import io.weightstream.checkpoint.CheckpointTensor;
import io.weightstream.tensor.DType;
import io.weightstream.tensor.Tensor;
import io.weightstream.tensor.TensorSpec;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;

/** Builds safetensors files byte by byte for the tests, and hashes tensors. */
final class SafetensorsTestFiles {
    private SafetensorsTestFiles() {
    }

    /** A file of an 8-byte little-endian length, the JSON as given (no padding) and {@code data}. */
    static Path raw(Path dir, String name, String json, byte[] data) {
        return raw(dir, name, json.getBytes(StandardCharsets.UTF_8), data);
    }

    static Path raw(Path dir, String name, byte[] json, byte[] data) {
        ByteBuffer b = ByteBuffer.allocate(8 + json.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(json.length).put(json).put(data);
        return write(dir.resolve(name), b.array());
    }

    static Path write(Path file, byte[] bytes) {
        try {
            return Files.write(file, bytes);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Offset in the file of the first occurrence of {@code needle} in the JSON header (which starts at byte 8). */
    static long headerOffsetOf(String json, String needle) {
        int i = json.indexOf(needle);
        if (i < 0) {
            throw new IllegalArgumentException(needle + " not in " + json);
        }
        return 8 + json.substring(0, i).getBytes(StandardCharsets.UTF_8).length;
    }

    /** Tensors of one dtype with random bytes: a matrix, a vector, a 3-D block, a scalar and two empty ones. */
    static List<Tensor> randomTensors(DType dtype, String prefix, Random random) {
        List<Tensor> tensors = new ArrayList<>();
        tensors.add(random(new TensorSpec(prefix + "matrix", dtype, 3 + random.nextInt(20), 1 + random.nextInt(20)), random));
        tensors.add(random(new TensorSpec(prefix + "vector", dtype, 1 + random.nextInt(50)), random));
        tensors.add(random(new TensorSpec(prefix + "block", dtype, 2, 3, 4), random));
        tensors.add(random(new TensorSpec(prefix + "scalar", dtype), random));
        tensors.add(random(new TensorSpec(prefix + "empty", dtype, 0, 4), random));
        tensors.add(random(new TensorSpec(prefix + "none", dtype, 0), random));
        return tensors;
    }

    static Tensor random(TensorSpec spec, Random random) {
        byte[] bytes = new byte[Math.toIntExact(spec.byteSize())];
        random.nextBytes(bytes);
        if (spec.dtype() == DType.BOOL) {
            for (int i = 0; i < bytes.length; i++) {
                bytes[i] &= 1;
            }
        }
        return new Tensor(spec, ByteBuffer.wrap(bytes));
    }

    static byte[] bytes(CheckpointTensor t) {
        ByteBuffer dst = ByteBuffer.allocate(Math.toIntExact(t.byteSize()));
        t.read(0, dst);
        return dst.array();
    }

    /** SHA-256 of a tensor's bytes, read in 64 KiB ranges with positional reads. */
    static String sha256(CheckpointTensor t) {
        MessageDigest md = sha256();
        ByteBuffer chunk = ByteBuffer.allocate(1 << 16);
        for (long off = 0; off < t.byteSize(); ) {
            chunk.clear();
            off += t.read(off, chunk);
            chunk.flip();
            md.update(chunk);
        }
        return HexFormat.of().formatHex(md.digest());
    }

    static String sha256(ByteBuffer bytes) {
        MessageDigest md = sha256();
        md.update(bytes.duplicate());
        return HexFormat.of().formatHex(md.digest());
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
