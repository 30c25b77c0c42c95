package dev.lifeboat.controller.api;

import io.javalin.security.RouteRole;
import java.util.Locale;

/** What a bearer token may do: viewers read, operators also start and cancel jobs, admins also read and verify the
 * audit log. */
public enum Role implements RouteRole {
    VIEWER,
    OPERATOR,
    ADMIN;

    public boolean allows(Role needed) {
        return ordinal() >= needed.ordinal();
    }

    public static Role parse(String s) {
        try {
            return valueOf(s.trim().toUpperCase(Locale.ROOT));
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("unknown role '" + s + "' (viewer, operator, admin)");
        }
    }
}
