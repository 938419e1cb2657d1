package io.weightstream.registry;

import static org.assertj.core.api.Assertions.assertThat;

import io.weightstream.schemas.CheckpointManifest;
import io.weightstream.schemas.ReplicaStatus;
import org.apache.avro.Schema;
import org.apache.avro.SchemaCompatibility;
import org.junit.jupiter.api.Test;

class IncompatibilitiesTest {

    @Test
    void deepIncompatibilitiesAreNamedByFieldPath() {
        Schema writer = CheckpointManifest.getClassSchema();
        // the reader wants PolicyRule.pattern (inside policy.rules[]) as an int
        Schema reader = new Schema.Parser().parse(writer.toString().replace(
                "\"name\":\"pattern\",\"type\":{\"type\":\"string\",\"avro.java.string\":\"String\"}",
                "\"name\":\"pattern\",\"type\":\"int\""));
        assertThat(reader).isNotEqualTo(writer);
        var pair = SchemaCompatibility.checkReaderWriterCompatibility(reader, writer);
        assertThat(Incompatibilities.describe(pair)).singleElement().asString()
                .startsWith("TYPE_MISMATCH at policy.rules[].pattern: ");

        // inside a nullable union Avro reports the union branch it cannot match
        Schema unionReader = new Schema.Parser().parse(writer.toString().replace(
                "{\"name\":\"parent\",\"type\":{\"type\":\"string\",\"avro.java.string\":\"String\"}",
                "{\"name\":\"parent\",\"type\":\"int\""));
        assertThat(Incompatibilities.describe(SchemaCompatibility.checkReaderWriterCompatibility(unionReader, writer)))
                .singleElement().asString().startsWith("MISSING_UNION_BRANCH at tensors[].part: ");
    }

    @Test
    void missingDefaultsAndTopLevelProblemsAreNamed() {
        Schema writer = ReplicaStatus.getClassSchema();
        Schema reader = new Schema.Parser().parse(writer.toString().replace(
                "{\"name\":\"timestampMs\",\"type\":\"long\"}",
                "{\"name\":\"timestampMs\",\"type\":\"long\"},{\"name\":\"region\",\"type\":\"string\"}"));
        var pair = SchemaCompatibility.checkReaderWriterCompatibility(reader, writer);
        assertThat(Incompatibilities.describe(pair)).singleElement().asString()
                .startsWith("READER_FIELD_MISSING_DEFAULT_VALUE at region: ");
        assertThat(Incompatibilities.fieldPath(writer, "/name")).isEqualTo("name");
        assertThat(Incompatibilities.fieldPath(writer, "")).isEqualTo("the record");
        assertThat(Incompatibilities.fieldPath(writer, "/fields/99/type")).isEqualTo("/fields/99/type");
    }
}
