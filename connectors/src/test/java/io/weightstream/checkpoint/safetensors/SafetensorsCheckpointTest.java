package io.weightstream.checkpoint.safetensors;

import static io.weightstream.checkpoint.safetensors.SafetensorsTestFiles.headerOffsetOf;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.weightstream.checkpoint.CheckpointFormatException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.assertj.core.api.AbstractThrowableAssert;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every way a safetensors file can be malformed gives a CheckpointFormatException naming the file and the byte. */
class SafetensorsCheckpointTest {
    @TempDir
    Path dir;

    private int files;

    @Test
    void fileShorterThanTheLengthPrefix() {
        for (int size = 0; size < 8; size++) {
            Path f = SafetensorsTestFiles.write(dir.resolve("short" + size + ".safetensors"), new byte[size]);
            assertRejected(f, 0).hasMessageContaining("fewer than the 8-byte header length");
        }
    }

    @Test
    void headerLengthAboveTheLimitIsRejectedBeforeAllocating() {
        ByteBuffer b = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(SafetensorsCheckpoint.MAX_HEADER_BYTES + 1);
        assertRejected(SafetensorsTestFiles.write(dir.resolve("big.safetensors"), b.array()), 0)
                .hasMessageContaining("header length 100000001 exceeds the limit of 100000000 bytes");
        b.putLong(0, -1L);
        assertRejected(SafetensorsTestFiles.write(dir.resolve("u64.safetensors"), b.array()), 0)
                .hasMessageContaining("header length 18446744073709551615 exceeds");
        b.putLong(0, Integer.MAX_VALUE + 100L);
        assertRejected(SafetensorsTestFiles.write(dir.resolve("int.safetensors"), b.array()), 0)
                .hasMessageContaining("exceeds");
    }

    @Test
    void headerLimitIsConfigurable() {
        Path f = SafetensorsTestFiles.raw(dir, "ok.safetensors", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", new byte[1]);
        SafetensorsCheckpoint.open(f).close();
        assertThatThrownBy(() -> SafetensorsCheckpoint.open(f, 16))
                .isInstanceOf(CheckpointFormatException.class).hasMessageContaining("exceeds the limit of 16 bytes");
    }

    @Test
    void headerLengthPastTheEndOfTheFile() {
        ByteBuffer b = ByteBuffer.allocate(40).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(33).put("{}".getBytes(StandardCharsets.US_ASCII));
        assertRejected(SafetensorsTestFiles.write(dir.resolve("past.safetensors"), b.array()), 0)
                .hasMessageContaining("header length 33 runs past the end of the file (40 bytes)");
    }

    @Test
    void headerNotUtf8() {
        byte[] json = "{\"ab\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}".getBytes(StandardCharsets.US_ASCII);
        for (byte[] bad : new byte[][] {{(byte) 0xc3, 0x28}, {(byte) 0xc0, (byte) 0xaf}, {(byte) 0xed, (byte) 0xa0, (byte) 0x80},
                {(byte) 0xf4, (byte) 0x90, (byte) 0x80, (byte) 0x80}, {(byte) 0xff}, {(byte) 0xe2, (byte) 0x82}}) {
            byte[] mutated = new byte[json.length + bad.length];
            System.arraycopy(json, 0, mutated, 0, 3);
            System.arraycopy(bad, 0, mutated, 3, bad.length);
            System.arraycopy(json, 3, mutated, 3 + bad.length, json.length - 3);
            assertRejected(SafetensorsTestFiles.raw(dir, "utf8-" + files++ + ".safetensors", mutated, new byte[1]), 8 + 3)
                    .hasMessageContaining("not valid UTF-8");
        }
    }

    @Test
    void headerNotJson() {
        String json = "{\"a\": {\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": [0, 1]},, }";
        assertRejected(raw(json, 1), headerOffsetOf(json, ",, }") + 1).hasMessageContaining("not valid JSON");
        String open = "{\"a\": {\"dtype\": \"U8\"";
        assertThatThrownBy(() -> SafetensorsCheckpoint.open(raw(open, 0)))
                .isInstanceOf(CheckpointFormatException.class).hasMessageContaining("not valid JSON")
                .satisfies(e -> assertThat(((CheckpointFormatException) e).offset()).isBetween(8L, 8L + open.length()));
        assertRejected(raw("", 0), 8).hasMessageContaining("not a JSON object");
        assertRejected(raw("   ", 0), 11).hasMessageContaining("not a JSON object");
    }

    @Test
    void headerNotAnObject() {
        assertRejected(raw("[1, 2]", 0), 8).hasMessageContaining("not a JSON object");
        assertRejected(raw("  \"x\"", 0), 10).hasMessageContaining("not a JSON object");
        byte[] bom = {(byte) 0xef, (byte) 0xbb, (byte) 0xbf, '{', '}'};
        assertRejected(SafetensorsTestFiles.raw(dir, "bom.safetensors", bom, new byte[0]), 8).hasMessageContaining("not a JSON object");
        String twice = "{} {}";
        assertRejected(raw(twice, 0), 11).hasMessageContaining("content after the header");
    }

    @Test
    void tensorEntryNotAnObject() {
        String json = "{\"a\": [0, 1]}";
        assertRejected(raw(json, 0), headerOffsetOf(json, "[")).hasMessageContaining("tensor 'a' must be an object, not an array");
    }

    @Test
    void unknownDType() {
        String json = "{\"a\": {\"dtype\": \"F8_E4M3\", \"shape\": [1], \"data_offsets\": [0, 1]}}";
        assertRejected(raw(json, 1), headerOffsetOf(json, "\"F8_E4M3\"")).hasMessageContaining("unsupported dtype 'F8_E4M3'");
        String number = "{\"a\": {\"dtype\": 4, \"shape\": [1], \"data_offsets\": [0, 1]}}";
        assertRejected(raw(number, 1), headerOffsetOf(number, "4,")).hasMessageContaining("dtype must be a string");
    }

    @Test
    void badShapes() {
        String[] shapes = {"3", "[-1]", "[1.0]", "[18446744073709551616]", "[[1]]", "[\"1\"]", "null"};
        for (String shape : shapes) {
            String json = "{\"a\": {\"dtype\": \"U8\", \"shape\": " + shape + ", \"data_offsets\": [0, 1]}}";
            CheckpointFormatException e = rejected(raw(json, 1));
            assertThat(e.getMessage()).as(shape).contains("tensor 'a': shape");
            assertThat(e.offset()).as(shape).isBetween(headerOffsetOf(json, "\"shape\""), headerOffsetOf(json, ", \"data_offsets\""));
        }
        String deep = "{\"a\": {\"dtype\": \"U8\", \"shape\": [" + "1, ".repeat(SafetensorsHeader.MAX_RANK) + "1], \"data_offsets\": [0, 1]}}";
        assertRejected(raw(deep, 1), headerOffsetOf(deep, "1]")).hasMessageContaining("shape has more than 1024 values");
        String overflow = "{\"a\": {\"dtype\": \"F32\", \"shape\": [4611686018427387904, 4], \"data_offsets\": [0, 1]}}";
        assertRejected(raw(overflow, 1), headerOffsetOf(overflow, "[4611")).hasMessageContaining("more bytes than a 64-bit size can count");
        String bytesOverflow = "{\"a\": {\"dtype\": \"F32\", \"shape\": [4611686018427387904], \"data_offsets\": [0, 1]}}";
        assertRejected(raw(bytesOverflow, 1), headerOffsetOf(bytesOverflow, "[4611")).hasMessageContaining("more bytes than");
    }

    @Test
    void badDataOffsets() {
        String[] offsets = {"[0]", "[0, 1, 2]", "[1, 0]", "[0, -1]", "\"0,1\"", "[0, 1.5]", "{}"};
        for (String o : offsets) {
            String json = "{\"a\": {\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": " + o + "}}";
            CheckpointFormatException e = rejected(raw(json, 1));
            assertThat(e.getMessage()).as(o).contains("tensor 'a': data_offsets");
            assertThat(e.offset()).as(o).isBetween(headerOffsetOf(json, o), headerOffsetOf(json, o) + o.length());
        }
    }

    @Test
    void missingFields() {
        String json = "{\"__metadata__\": {}, \"a\": {\"dtype\": \"U8\", \"shape\": [1]}}";
        assertRejected(raw(json, 1), headerOffsetOf(json, "\"a\"")).hasMessageContaining("tensor 'a' lacks data_offsets");
        String noDtype = "{\"a\": {\"shape\": [1], \"data_offsets\": [0, 1]}}";
        assertRejected(raw(noDtype, 1), 9).hasMessageContaining("tensor 'a' lacks dtype");
    }

    @Test
    void sizeDoesNotMatchDTypeTimesShape() {
        String json = "{\"a\": {\"dtype\": \"F32\", \"shape\": [2, 3], \"data_offsets\": [0, 20]}}";
        assertRejected(raw(json, 20), headerOffsetOf(json, "[0, 20]"))
                .hasMessageContaining("tensor 'a': data_offsets [0, 20] span 20 bytes but F32 x [2, 3] needs 24");
    }

    @Test
    void offsetsPastTheEndOfTheFile() {
        String json = "{\"a\": {\"dtype\": \"U8\", \"shape\": [4], \"data_offsets\": [0, 4]},"
                + " \"b\": {\"dtype\": \"U8\", \"shape\": [4], \"data_offsets\": [4, 8]}}";
        long dataStart = 8 + json.length();
        assertRejected(raw(json, 6), dataStart + 4).hasMessageContaining("tensor 'b' data_offsets [4, 8] run past the end of the file");
        String huge = "{\"a\": {\"dtype\": \"U8\", \"shape\": [9223372036854775807], \"data_offsets\": [0, 9223372036854775807]}}";
        assertRejected(raw(huge, 3), 8 + huge.length()).hasMessageContaining("run past the end of the file");
    }

    @Test
    void overlappingTensors() {
        String json = "{\"a\": {\"dtype\": \"U8\", \"shape\": [8], \"data_offsets\": [0, 8]},"
                + " \"b\": {\"dtype\": \"U8\", \"shape\": [8], \"data_offsets\": [4, 12]}}";
        assertRejected(raw(json, 12), 8 + json.length() + 4).hasMessageContaining("tensor 'b' data_offsets [4, 12] overlap tensor 'a'");
        String same = "{\"a\": {\"dtype\": \"U8\", \"shape\": [8], \"data_offsets\": [0, 8]},"
                + " \"b\": {\"dtype\": \"U8\", \"shape\": [8], \"data_offsets\": [0, 8]}}";
        assertRejected(raw(same, 8), 8 + same.length()).hasMessageContaining("overlap tensor 'a'");
    }

    /** The reference reader rejects holes (InvalidOffset); so do we, wherever the hole is. */
    @Test
    void holesInTheDataRegion() {
        String gap = "{\"a\": {\"dtype\": \"U8\", \"shape\": [4], \"data_offsets\": [0, 4]},"
                + " \"b\": {\"dtype\": \"U8\", \"shape\": [4], \"data_offsets\": [8, 12]}}";
        assertRejected(raw(gap, 12), 8 + gap.length() + 4).hasMessageContaining("hole of 4 bytes in the data region before tensor 'b'");
        String leading = "{\"a\": {\"dtype\": \"U8\", \"shape\": [4], \"data_offsets\": [2, 6]}}";
        assertRejected(raw(leading, 6), 8 + leading.length()).hasMessageContaining("hole of 2 bytes");
        String trailing = "{\"a\": {\"dtype\": \"U8\", \"shape\": [4], \"data_offsets\": [0, 4]}}";
        assertRejected(raw(trailing, 7), 8 + trailing.length() + 4).hasMessageContaining("3 bytes after the last tensor");
        assertRejected(raw("{}", 1), 10).hasMessageContaining("1 bytes after the last tensor");
    }

    @Test
    void duplicateNames() {
        String json = "{\"a\": {\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": [0, 1]},"
                + " \"a\": {\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": [1, 2]}}";
        CheckpointFormatException e = rejected(raw(json, 2));
        assertThat(e.getMessage()).contains("Duplicate field 'a'");
        assertThat(e.offset()).isBetween(headerOffsetOf(json, ", \"a\""), 8L + json.length());
    }

    @Test
    void metadataMustBeAStringMap() {
        String notObject = "{\"__metadata__\": [\"a\"]}";
        assertRejected(raw(notObject, 0), headerOffsetOf(notObject, "[")).hasMessageContaining("__metadata__ must be an object of strings");
        String notString = "{\"__metadata__\": {\"a\": \"x\", \"b\": 1}}";
        assertRejected(raw(notString, 0), headerOffsetOf(notString, "1}")).hasMessageContaining("value of 'b' must be a string, not a number");
        String nested = "{\"__metadata__\": {\"a\": {}}}";
        assertRejected(raw(nested, 0), headerOffsetOf(nested, "{}")).hasMessageContaining("must be a string, not an object");
        String twice = "{\"__metadata__\": {\"a\": \"1\", \"a\": \"2\"}}";
        assertThat(rejected(raw(twice, 0)).getMessage()).contains("Duplicate field 'a'");
    }

    @Test
    void nullMetadataIsNoMetadata() {
        try (SafetensorsCheckpoint ckpt = SafetensorsCheckpoint.open(raw("{\"__metadata__\": null}", 0))) {
            assertThat(ckpt.metadata()).isEmpty();
            assertThat(ckpt.tensors()).isEmpty();
        }
    }

    @Test
    void deepNestingInUnknownFieldsIsBounded() {
        String json = "{\"a\": {\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": [0, 1], \"x\": " + "[".repeat(5000) + "]".repeat(5000) + "}}";
        assertThat(rejected(raw(json, 1)).getMessage()).contains("not valid JSON");
    }

    private Path raw(String json, int dataBytes) {
        return SafetensorsTestFiles.raw(dir, "bad" + files++ + ".safetensors", json, new byte[dataBytes]);
    }

    private static CheckpointFormatException rejected(Path file) {
        try {
            SafetensorsCheckpoint.open(file).close();
        } catch (CheckpointFormatException e) {
            assertThat(e.file()).isEqualTo(file);
            assertThat(e.getMessage()).startsWith(file.toString());
            return e;
        }
        throw new AssertionError(file + " was accepted");
    }

    private static AbstractThrowableAssert<?, ? extends Throwable> assertRejected(Path file, long offset) {
        CheckpointFormatException e = rejected(file);
        assertThat(e.offset()).as(e.getMessage()).isEqualTo(offset);
        return assertThat((Throwable) e);
    }
}
