package io.weightstream.registry;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.weightstream.schemas.CheckpointManifest;
import io.weightstream.schemas.CompressedLayerChunk;
import io.weightstream.schemas.CompressionPolicy;
import io.weightstream.schemas.DType;
import io.weightstream.schemas.DeadLetter;
import io.weightstream.schemas.LayerChunk;
import io.weightstream.schemas.LayerMetrics;
import io.weightstream.schemas.MethodSummary;
import io.weightstream.schemas.ModelVersionCompressed;
import io.weightstream.schemas.PolicyRule;
import io.weightstream.schemas.ProducerSignature;
import io.weightstream.schemas.ReplicaState;
import io.weightstream.schemas.ReplicaStatus;
import io.weightstream.schemas.SourceFormat;
import io.weightstream.schemas.TensorEntry;
import io.weightstream.schemas.TensorPart;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.ByteBuffer;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.apache.avro.specific.SpecificRecord;

/**
 * Samples of every top-level record of the wire contract: one with every optional field set, one with every
 * optional field left out, with edge values (non-ASCII text, extreme numbers, NaN, empty collections).
 */
final class SampleRecords {
    private SampleRecords() {}

    /** Every sample; at least two per top-level record. */
    static List<SpecificRecord> all() {
        List<SpecificRecord> all = new ArrayList<>();
        all.add(manifest(true));
        all.add(manifest(false));
        all.add(layerChunk(64 * 1024));
        all.add(layerChunk(0));
        all.add(compressedLayerChunk(true));
        all.add(compressedLayerChunk(false));
        all.add(modelVersionCompressed());
        all.add(ModelVersionCompressed.newBuilder(modelVersionCompressed()).setMethods(List.of())
                .setManifest(manifest(false)).build());
        all.add(replicaStatus(true));
        all.add(replicaStatus(false));
        all.add(deadLetter(true));
        all.add(deadLetter(false));
        return all;
    }

    static CheckpointManifest manifest(boolean full) {
        TensorEntry plain = TensorEntry.newBuilder()
                .setName("encoder.layer.0.attention.self.query.weight")
                .setAlias(full ? "/encoder/layer.0/attention/self/query/MatMul" : null)
                .setDtype(DType.F32)
                .setShape(List.of(384L, 384L))
                .setByteSize(384L * 384 * 4)
                .setSha256("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")
                .setChunkCount(1)
                .build();
        TensorEntry part = TensorEntry.newBuilder(plain)
                .setName("embeddings.word_embeddings.weight#part1")
                .setDtype(DType.BF16)
                .setShape(List.of(15_261L, 384L))
                .setByteSize(15_261L * 384 * 2)
                .setChunkCount(12)
                .setPart(full ? TensorPart.newBuilder().setParent("embeddings.word_embeddings.weight").setIndex(1)
                        .setCount(2).setRowStart(15_261L).setParentShape(List.of(30_522L, 384L))
                        .setParentSha256("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855").build() : null)
                .build();
        CompressionPolicy policy = full
                ? CompressionPolicy.newBuilder().setDefaultMethod("rtn").setDefaultParams(Map.of("bits", "8", "group", "128"))
                        .setRules(List.of(PolicyRule.newBuilder().setPattern("*attention*").setMethod("lowrank")
                                .setParams(Map.of("rank", "64")).build(),
                                PolicyRule.newBuilder().setPattern("embeddings.*").setMethod("prune").setParams(Map.of()).build()))
                        .setKeepMethod("lossless").setKeepOneDimensional(false).setKeepUnderBytes(Long.MAX_VALUE)
                        .setMaxRelL2(0.02).setFallbackMethods(List.of("rtn", "lossless")).build()
                : CompressionPolicy.newBuilder().setDefaultMethod("lossless").build();
        return CheckpointManifest.newBuilder()
                .setModel("all-minilm-l6-v2")
                .setVersion(full ? "2026-11-23T02:00Z-é日本" : "1")
                .setSourceFormat(full ? SourceFormat.ONNX : SourceFormat.SAFETENSORS)
                .setSourceFileName("model.onnx")
                .setSourceFileBytes(90_387_606L)
                .setPublishedAtMs(full ? 1_795_000_000_000L : Long.MIN_VALUE)
                .setChunkBytes(1 << 20)
                .setTensors(full ? List.of(plain, part) : List.of())
                .setPolicy(policy)
                .setSkeleton(ByteBuffer.wrap(bytes(full ? 4096 : 0, 7)))
                .setProducer(ProducerSignature.newBuilder().setProducerId("weightstream-publisher-1").setHost("trainer-07")
                        .setTool("weightstream 0.1.0").setSignature(full ? ByteBuffer.wrap(bytes(32, 9)) : null).build())
                .build();
    }

    static LayerChunk layerChunk(int dataBytes) {
        return LayerChunk.newBuilder()
                .setModel("all-minilm-l6-v2")
                .setVersion("3")
                .setTensor("encoder.layer.5.output.dense.weight")
                .setChunkIndex(dataBytes == 0 ? 0 : 2)
                .setChunkCount(dataBytes == 0 ? 1 : 3)
                .setOffset(2L * dataBytes)
                .setTensorBytes(3L * dataBytes)
                .setCrc32c(dataBytes == 0 ? 0 : -1_234_567_891)
                .setData(ByteBuffer.wrap(bytes(dataBytes, 1)))
                .build();
    }

    static CompressedLayerChunk compressedLayerChunk(boolean full) {
        return CompressedLayerChunk.newBuilder()
                .setModel("all-minilm-l6-v2")
                .setVersion("3")
                .setTensor("encoder.layer.1.intermediate.dense.weight")
                .setAlias(full ? "/encoder/layer.1/intermediate/dense/MatMul" : null)
                .setMethod(full ? "rtn" : "lossless")
                .setParams(full ? Map.of("bits", "4", "group", "64", "symmetric", "true") : Map.of())
                .setCodecFormatVersion(1)
                .setDtype(full ? DType.F16 : DType.UNKNOWN)
                .setShape(full ? List.of(1536L, 384L) : List.of())
                .setOriginalBytes(1536L * 384 * 2)
                .setEncodedBytes(300_000L)
                .setChunkIndex(0)
                .setChunkCount(1)
                .setOffset(0)
                .setCrc32c(Integer.MIN_VALUE)
                .setData(ByteBuffer.wrap(bytes(full ? 20_000 : 1, 3)))
                .setSourceSha256("a".repeat(64))
                .setReconstructionSha256("b".repeat(64))
                .setMetrics(LayerMetrics.newBuilder().setRelL2(full ? 0.0123 : 0.0).setMaxAbsError(full ? Double.NaN : 0.0)
                        .setCosine(full ? 0.99992 : 1.0).setEncodeMs(full ? Double.MAX_VALUE : 0.5)
                        .setDecodeMs(full ? Double.MIN_VALUE : -0.0).build())
                .setPart(full ? TensorPart.newBuilder().setParent("encoder.layer.1.intermediate.dense.weight").setIndex(0)
                        .setCount(4).setRowStart(0).setParentShape(List.of(6144L, 384L)).setParentSha256("c".repeat(64))
                        .build() : null)
                .build();
    }

    static ModelVersionCompressed modelVersionCompressed() {
        return ModelVersionCompressed.newBuilder()
                .setModel("all-minilm-l6-v2")
                .setVersion("2026-11-23T02:00Z-é日本")
                .setManifest(manifest(true))
                .setTensorCount(101)
                .setOriginalBytes(90_000_000L)
                .setEncodedBytes(23_000_000L)
                .setRatio(90_000_000.0 / 23_000_000)
                .setMethods(List.of(
                        MethodSummary.newBuilder().setMethod("rtn").setTensors(72).setOriginalBytes(80_000_000L)
                                .setEncodedBytes(20_000_000L).setMeanRelL2(0.011).setMaxRelL2(0.019).setEncodeMs(1234.5).build(),
                        MethodSummary.newBuilder().setMethod("lossless").setTensors(29).setOriginalBytes(10_000_000L)
                                .setEncodedBytes(3_000_000L).setMeanRelL2(0).setMaxRelL2(0).setEncodeMs(12).build()))
                .setPublishedAtMs(1_795_000_000_000L)
                .setCompletedAtMs(1_795_000_004_321L)
                .build();
    }

    static ReplicaStatus replicaStatus(boolean full) {
        ReplicaStatus.Builder status = ReplicaStatus.newBuilder()
                .setModel("all-minilm-l6-v2")
                .setReplica("decoder-2")
                .setState(full ? ReplicaState.SWAPPED : ReplicaState.STARTING)
                .setTimestampMs(1_795_000_005_000L);
        if (full) {
            status.setVersion("3").setServingVersion("3").setLatencyMs(4_321).setMessage("swapped in 12 ms, ünïcödé");
        }
        return status.build();
    }

    static DeadLetter deadLetter(boolean full) {
        return DeadLetter.newBuilder()
                .setSourceTopic("weightstream.layers")
                .setPartition(full ? 7 : 0)
                .setOffset(full ? Long.MAX_VALUE : 0)
                .setKey(full ? ByteBuffer.wrap("all-minilm-l6-v2/encoder.layer.0".getBytes(java.nio.charset.StandardCharsets.UTF_8)) : null)
                .setValue(full ? ByteBuffer.wrap(bytes(1000, 5)) : null)
                .setValueBytes(full ? 1000 : 0)
                .setStage("deserialize")
                .setReason("at byte 17: string declares 1000 bytes but only 3 remain")
                .setErrorClass(full ? RecordFormatException.class.getName() : null)
                .setModel(full ? "all-minilm-l6-v2" : null)
                .setVersion(full ? "3" : null)
                .setTimestampMs(1_795_000_006_000L)
                .build();
    }

    static byte[] bytes(int n, long seed) {
        byte[] bytes = new byte[n];
        new Random(seed).nextBytes(bytes);
        return bytes;
    }

    /**
     * Names of the top-level records of the contract, from the {@code .avsc} files the schemas jar carries under
     * {@code avro/}: a new record added there without a sample here makes the coverage test fail.
     */
    static List<String> contractRecordNames() {
        URL dir = SampleRecords.class.getClassLoader().getResource("avro/common.avsc");
        if (dir == null) {
            throw new IllegalStateException("avro/*.avsc not on the test class path (schemas jar)");
        }
        try {
            URI uri = dir.toURI();
            if (uri.getScheme().equals("jar")) {
                try (FileSystem jar = FileSystems.newFileSystem(uri, Map.of())) {
                    return recordNames(jar.getPath("/avro"));
                }
            }
            return recordNames(Path.of(uri).getParent());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    private static List<String> recordNames(Path avroDir) throws IOException {
        TreeSet<String> names = new TreeSet<>();
        try (Stream<Path> files = Files.list(avroDir)) {
            for (Path file : (Iterable<Path>) files::iterator) {
                if (file.getFileName().toString().endsWith(".avsc")) {
                    JsonNode schema = new ObjectMapper().readTree(Files.readString(file));
                    if (schema.path("type").asText().equals("record")) {
                        names.add(schema.path("name").asText());
                    }
                }
            }
        }
        return List.copyOf(names);
    }
}
