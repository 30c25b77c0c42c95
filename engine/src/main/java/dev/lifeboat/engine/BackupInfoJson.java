package dev.lifeboat.engine;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.JsonDeserializer;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.JsonSerializer;
import com.fasterxml.jackson.databind.SerializerProvider;
import java.io.IOException;

/**
 * How a manifest's engine section is written and read. Written: {@link BackupInfo#toJson()}, i.e.
 * {@code {"engine": NAME, "version": N, …}}. Read: a section with a textual {@code engine} and a numeric
 * {@code version} goes to that engine ({@link Engine#readBackupInfo}), which reads every version it knows and refuses
 * newer ones; anything else is a manifest from before sections had versions, whose {@code engineInfo} is a map of
 * strings written by {@link Engines#BEFORE_SECTIONS the PostgreSQL engine}, which converts it.
 */
public final class BackupInfoJson {
    private BackupInfoJson() {}

    /** Reads a section (see the class comment). */
    public static BackupInfo read(JsonNode section) {
        if (section == null || !section.isObject()) {
            throw new IllegalArgumentException("engineInfo is not an object");
        }
        JsonNode engine = section.get("engine");
        JsonNode version = section.get("version");
        boolean versioned = engine != null && engine.isTextual() && version != null && version.isIntegralNumber();
        return Engines.get(versioned ? engine.asText() : Engines.BEFORE_SECTIONS)
                .readBackupInfo(section);
    }

    public static final class Writer extends JsonSerializer<BackupInfo> {
        @Override
        public void serialize(BackupInfo value, JsonGenerator gen, SerializerProvider serializers) throws IOException {
            gen.writeTree(value.toJson());
        }
    }

    public static final class Reader extends JsonDeserializer<BackupInfo> {
        @Override
        public BackupInfo deserialize(JsonParser p, DeserializationContext ctxt) throws IOException {
            JsonNode section = p.readValueAsTree();
            try {
                return read(section);
            } catch (IllegalArgumentException e) {
                throw JsonMappingException.from(p, "engineInfo: " + e.getMessage(), e);
            }
        }
    }
}
