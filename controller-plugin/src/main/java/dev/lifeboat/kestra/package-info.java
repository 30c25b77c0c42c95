/** Lifeboat's pipeline steps for Kestra: thin clients of the controller's REST API. */
@PluginSubGroup(
        title = "Lifeboat",
        description = "Backups, point-in-time restores, verification, DR drills and RPO gates for PostgreSQL, run by "
                + "the Lifeboat controller and its agents.",
        categories = PluginSubGroup.PluginCategory.TOOL)
package dev.lifeboat.kestra;

import io.kestra.core.models.annotations.PluginSubGroup;
