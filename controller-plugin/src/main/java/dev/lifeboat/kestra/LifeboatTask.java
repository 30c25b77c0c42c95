package dev.lifeboat.kestra;

import io.kestra.core.models.annotations.PluginProperty;
import io.kestra.core.models.property.Property;
import io.kestra.core.models.tasks.Task;
import io.kestra.core.runners.RunContext;
import io.swagger.v3.oas.annotations.media.Schema;
import jakarta.validation.constraints.NotNull;
import lombok.EqualsAndHashCode;
import lombok.Getter;
import lombok.NoArgsConstructor;
import lombok.ToString;
import lombok.experimental.SuperBuilder;

/** What every task needs: where the controller is and the token it answers to. */
@SuperBuilder
@ToString
@EqualsAndHashCode
@Getter
@NoArgsConstructor
public abstract class LifeboatTask extends Task {
    @Schema(
            title = "The Lifeboat controller's base URL",
            description = "e.g. `https://lifeboat.example.com:8443`; the tasks call its REST API under `/api/v1`.")
    @NotNull
    protected Property<String> url;

    @Schema(
            title = "A controller API token",
            description = "Role operator for tasks that start jobs, viewer for the read-only ones. Keep it in a "
                    + "secret: `{{ secret('LIFEBOAT_TOKEN') }}`.")
    @NotNull
    @PluginProperty(secret = true)
    protected Property<String> token;

    ControllerApi api(RunContext runContext) throws Exception {
        return new ControllerApi(
                runContext
                        .render(url)
                        .as(String.class)
                        .orElseThrow(() -> new IllegalArgumentException("url is " + "required")),
                runContext
                        .render(token)
                        .as(String.class)
                        .orElseThrow(() -> new IllegalArgumentException("token is required"))
                        .strip());
    }
}
