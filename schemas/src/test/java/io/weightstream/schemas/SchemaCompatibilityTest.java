package io.weightstream.schemas;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import io.weightstream.schemas.ReleasedSchemas.Released;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.apache.avro.Schema;
import org.junit.jupiter.api.Test;

/**
 * Every record of the wire contract stays BACKWARD compatible with its last released version (the topics'
 * compatibility level, DESIGN.md): a consumer built with today's schema reads records written with the
 * released one. Released versions are the files {@code released/<Record>.v<N>.avsc}; see schemas/README.md.
 */
class SchemaCompatibilityTest {

    @Test
    void everyRecordReadsItsLatestReleasedVersion() {
        Path dir = ReleasedSchemas.releasedDir();
        List<String> failures = new ArrayList<>();
        for (String record : ReleasedSchemas.currentRecordNames()) {
            Optional<Released> latest = ReleasedSchemas.latest(dir, record);
            if (latest.isEmpty()) {
                failures.add(record + " has no released version: add released/" + record + ".v1.avsc"
                        + " (see schemas/README.md)");
                continue;
            }
            ReleasedSchemas.report(record, ReleasedSchemas.current(record), latest.get()).ifPresent(failures::add);
        }
        if (!failures.isEmpty()) {
            fail(String.join("\n\n", failures));
        }
    }

    @Test
    void releasedFilesAreWellFormedVersionsOfKnownRecords() {
        List<Released> released = ReleasedSchemas.all(ReleasedSchemas.releasedDir());
        assertThat(released).extracting(Released::record)
                .containsAll(ReleasedSchemas.currentRecordNames())
                .allSatisfy(record -> assertThat(ReleasedSchemas.currentRecordNames()).contains(record));
        for (Released r : released) {
            assertThat(r.schema().getFullName()).as(r.file().toString())
                    .isEqualTo(ReleasedSchemas.PACKAGE + "." + r.record());
            // versions of a record are numbered 1..N without gaps
            long versions = released.stream().filter(o -> o.record().equals(r.record())).count();
            assertThat(r.version()).as(r.file().toString()).isBetween(1, (int) versions);
        }
        assertThat(ReleasedSchemas.currentRecordNames()).contains("CheckpointManifest", "CompressedLayerChunk",
                "DeadLetter", "LayerChunk", "ModelVersionCompressed", "ReplicaStatus");
    }

    /** The check is not vacuous: breaking changes to a copy of a released schema are reported, by name. */
    @Test
    void aBreakingChangeIsReportedNamingTheRecordAndTheField() {
        Released v1 = ReleasedSchemas.latest(ReleasedSchemas.releasedDir(), "CheckpointManifest").orElseThrow();

        Schema newRequiredField = withField(v1.schema(),
                new Schema.Field("region", Schema.create(Schema.Type.STRING), "added without a default", (Object) null));
        Optional<String> report = ReleasedSchemas.report("CheckpointManifest", newRequiredField, v1);
        assertThat(report).isPresent();
        assertThat(report.get())
                .startsWith("CheckpointManifest is not BACKWARD compatible with its released version " + v1.version())
                .contains("CheckpointManifest.v" + v1.version() + ".avsc")
                .contains("READER_FIELD_MISSING_DEFAULT_VALUE at region");

        // a narrowed type deep inside: tensors[].byteSize long -> int
        Schema narrowed = new Schema.Parser().parse(v1.schema().toString()
                .replace("{\"name\":\"byteSize\",\"type\":\"long\"", "{\"name\":\"byteSize\",\"type\":\"int\""));
        assertThat(narrowed).isNotEqualTo(v1.schema());
        assertThat(ReleasedSchemas.report("CheckpointManifest", narrowed, v1)).get().asString()
                .contains("TYPE_MISMATCH at tensors[].byteSize");

        // a field renamed without an alias
        Released replica = ReleasedSchemas.latest(ReleasedSchemas.releasedDir(), "ReplicaStatus").orElseThrow();
        Schema renamedField = new Schema.Parser().parse(replica.schema().toString()
                .replace("{\"name\":\"replica\",", "{\"name\":\"replicaId\","));
        assertThat(ReleasedSchemas.report("ReplicaStatus", renamedField, replica)).get().asString()
                .contains("READER_FIELD_MISSING_DEFAULT_VALUE at replicaId");
    }

    /** ...and compatible changes are not. */
    @Test
    void aCompatibleChangeIsAccepted() {
        Released v1 = ReleasedSchemas.latest(ReleasedSchemas.releasedDir(), "LayerChunk").orElseThrow();
        Schema newOptionalField = withField(v1.schema(),
                new Schema.Field("compression", Schema.create(Schema.Type.STRING), "with a default", "none"));
        assertThat(ReleasedSchemas.report("LayerChunk", newOptionalField, v1)).isEmpty();
        Schema widened = new Schema.Parser().parse(v1.schema().toString()
                .replace("{\"name\":\"chunkIndex\",\"type\":\"int\"}", "{\"name\":\"chunkIndex\",\"type\":\"long\"}"));
        assertThat(widened).isNotEqualTo(v1.schema());
        assertThat(ReleasedSchemas.report("LayerChunk", widened, v1)).isEmpty();
    }

    private static Schema withField(Schema record, Schema.Field extra) {
        List<Schema.Field> fields = new ArrayList<>();
        for (Schema.Field field : record.getFields()) {
            fields.add(new Schema.Field(field, field.schema()));
        }
        fields.add(extra);
        return Schema.createRecord(record.getName(), record.getDoc(), record.getNamespace(), false, fields);
    }
}
