package dev.lifeboat.controller.dashboard;

import dev.lifeboat.controller.status.SlaStatus.DatabaseStatus;

/** The compliance colour of a database: red when an objective is measured as missed, amber when not yet known. */
enum DatabaseState {
    OK,
    BREACH,
    UNKNOWN;

    static DatabaseState of(DatabaseStatus st) {
        boolean rpoMissed = st.rpoSeconds() != null && !st.rpoMet();
        boolean rtoMissed = st.rto().seconds() != null && !st.rtoMet();
        if (rpoMissed || rtoMissed || !st.agentState().equals("connected")) {
            return BREACH;
        }
        return st.compliant() ? OK : UNKNOWN;
    }

    String css() {
        return name().toLowerCase();
    }
}
