package dev.lifeboat.engine;

import dev.lifeboat.engine.postgres.PostgresEngine;
import java.util.List;

/** The engines this Lifeboat knows: a new engine is one folder under {@code dev.lifeboat.engine} and one entry here. */
public final class Engines {
    private static final List<Engine> ALL = List.of(new PostgresEngine());

    /**
     * The engine that wrote every manifest from before engine sections had a name and a version (their
     * {@code engineInfo} is a map of strings): Lifeboat backed up nothing but PostgreSQL then.
     */
    static final String BEFORE_SECTIONS = PostgresEngine.NAME;

    private Engines() {}

    /** The engine called {@code name} ({@code postgresql}). */
    public static Engine get(String name) {
        return ALL.stream()
                .filter(e -> e.name().equals(name))
                .findFirst()
                .orElseThrow(() -> new IllegalArgumentException("engine '" + name + "' is unknown to this version "
                        + "of Lifeboat (it knows "
                        + String.join(", ", ALL.stream().map(Engine::name).toList()) + ")"));
    }

    /** PostgreSQL, the engine of commands that take a PostgreSQL data directory or server. */
    public static Engine postgresql() {
        return get(PostgresEngine.NAME);
    }
}
